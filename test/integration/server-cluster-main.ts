// A server process for server-cluster.test.ts: runs runServer with the configuration given as
// JSON in argv[2] and prints "READY <json>" on stdout once every worker listens.

import type { PosternConfig } from '../../src/config/types.js';
import { runServer } from '../../src/app/server.js';

const config = JSON.parse(process.argv[2] ?? '{}') as PosternConfig;
runServer(config, {
  onReady: (info) => process.stdout.write(`READY ${JSON.stringify(info)}\n`),
}).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
