// A stand-in cluster worker for server-bans.test.ts: a tracker connected to its parent over the
// real IPC channel, driven by messages.

import { AuthFailureTracker, connectTrackerToPrimary } from '../../src/auth/failure-tracker.js';

const tracker = new AuthFailureTracker({ limits: { authFailuresBeforeBan: 3, banSeconds: 60 } });
connectTrackerToPrimary(tracker, process);
process.on('message', (msg: { cmd?: string; ip?: string }) => {
  if (msg.cmd === 'fail' && typeof msg.ip === 'string') {
    tracker.recordFailure(msg.ip);
    process.send?.({ cmd: 'failed' });
  } else if (msg.cmd === 'query' && typeof msg.ip === 'string') {
    process.send?.({ cmd: 'banned', value: tracker.isBanned(msg.ip) });
  } else if (msg.cmd === 'exit') {
    process.disconnect();
  }
});
process.send?.({ cmd: 'up' });
