// A worker entry for the tests of src/workers/pool.ts: tasks that answer, ask the main thread,
// print, spin forever, or kill their own thread.

import { serveTasks } from '../../src/workers/task-port.js';

serveTasks({
  echo: (payload) => Promise.resolve(payload),
  ask: async (payload, ctx) => ({ asked: payload, answer: await ctx.request(payload) }),
  print: (payload) => {
    console.log(`printed ${String(payload)}`);
    return Promise.resolve('printed');
  },
  spin: () => {
    // Never yields: only terminating the thread ends it.
    for (;;) {
      /* busy */
    }
  },
  fail: () => Promise.reject(Object.assign(new Error('it failed'), { code: 'EFAIL' })),
  crash: () => {
    process.exit(3);
  },
});
