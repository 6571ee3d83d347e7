// RFC 5321 §4.5.3.2: at least 5 minutes waiting for a command, 10 minutes for the end of DATA
// (the 3-minute per-block timeout is covered by the longer one: any byte resets the timer).

export const COMMAND_TIMEOUT_SECONDS = 5 * 60;
export const DATA_TIMEOUT_SECONDS = 10 * 60;
