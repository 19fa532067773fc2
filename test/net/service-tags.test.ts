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
