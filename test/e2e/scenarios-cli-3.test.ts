/** Shard 3 of the end-to-end CLI run over every bundled scenario (see test/helpers/scenarios-cli.ts). */
import { runScenarioShard } from '../helpers/scenarios-cli.ts';

await runScenarioShard(2);
