import t from 'tap';
import { ipToInt } from '../../src/net/cidr.ts';
import { ServiceTagIndex, tagCovers } from '../../src/net/service-tags.ts';

const ip = (s: string): number => ipToInt(s) as number;

const index = new ServiceTagIndex([
  { name: 'AzureActiveDirectory', region: '', addressPrefixes: ['20.190.128.0/18', '40.126.0.0/18', '2603:1006:2000::/48'] },
  { name: 'Storage', region: '', addressPrefixes: ['20.38.0.0/16', '52.239.0.0/16'] },
  { name: 'Storage.WestEurope', region: 'westeurope', addressPrefixes: ['20.38.108.0/23'] },
  { name: 'AzureMachineLearning', region: '', addressPrefixes: [] },
]);

t.test('prefixes are looked up case-insensitively; IPv6 prefixes are dropped', async (t) => {
  t.same(index.prefixes('azureactivedirectory')?.length, 2);
  t.ok(index.has('STORAGE.westeurope'));
  t.same(index.prefixes('storage.westeurope')?.map((c) => c.len), [23]);
  t.same(index.prefixes('AzureMachineLearning'), [], 'known tag with no IPv4 prefix');
  t.equal(index.prefixes('Sql.westeurope'), undefined, 'unknown tag');
  t.notOk(index.has('Sql'));
});

t.test('the global tag keeps its own prefixes alongside its regional child', async (t) => {
  t.same(index.prefixes('Storage')?.length, 2);
  t.same(ServiceTagIndex.empty().prefixes('Storage'), undefined);
});

t.test('tagsContaining finds every tag whose prefixes hold the address', async (t) => {
  t.same(index.tagsContaining(ip('20.38.108.5')).sort(), ['Storage', 'Storage.WestEurope']);
  t.same(index.tagsContaining(ip('20.190.130.1')), ['AzureActiveDirectory']);
  t.same(index.tagsContaining(ip('10.0.0.1')), []);
});

t.test('a parent tag covers its regional tags, not the reverse', async (t) => {
  t.ok(tagCovers('Storage', 'Storage.westeurope'));
  t.ok(tagCovers('storage', 'STORAGE.WestEurope'));
  t.ok(tagCovers('AzureActiveDirectory', 'azureactivedirectory'));
  t.notOk(tagCovers('Storage.westeurope', 'Storage'));
  t.notOk(tagCovers('Storage', 'StorageSyncService'));
  t.notOk(tagCovers('Storage.westeurope', 'Storage.eastus'));
});

t.test('tagSetOf numbers the set of tags holding an address: equal sets, equal numbers', async (t) => {
  const storage = index.tagSetOf(ip('20.38.1.1'));
  t.equal(index.tagSetOf(ip('52.239.7.7')), storage, 'both Storage only');
  const regional = index.tagSetOf(ip('20.38.108.5'));
  t.not(regional, storage, 'Storage and Storage.WestEurope is another set');
  t.equal(index.tagSetOf(ip('20.38.109.200')), regional);
  t.same([...index.tagSetKeys(regional)], ['storage', 'storage.westeurope']);
  t.not(index.tagSetOf(ip('20.190.130.1')), storage);
  t.equal(index.tagSetOf(ip('10.0.0.1')), 0, 'no tag');
  t.same([...index.tagSetKeys(0)], []);
});

t.test('listedAs recognises a tag listing copied as is, and nothing else', async (t) => {
  t.ok(index.listedAs('storage', ['20.38.0.0/16', '52.239.0.0/16']));
  t.notOk(index.listedAs('Storage', ['52.239.0.0/16', '20.38.0.0/16']), 'another order is left to a real comparison');
  t.notOk(index.listedAs('Storage', ['20.38.0.0/16']));
  t.notOk(index.listedAs('Sql', []));
  const twice = new ServiceTagIndex([
    { name: 'Storage', region: '', addressPrefixes: ['20.38.0.0/16'] },
    { name: 'storage', region: '', addressPrefixes: ['52.239.0.0/16'] },
  ]);
  t.notOk(twice.listedAs('Storage', ['20.38.0.0/16']), 'a tag listed twice has more prefixes than either list');
  t.same(twice.prefixesView('STORAGE')?.length, 2);
});
