// Prints the listeners the runtime actually opened, and the configured ones it did not.

import { LISTENER_NAMES, type PosternConfig } from '../config/types.js';
import { formatListenAddress } from '../config/listen-address.js';
import type { ReadyInfo } from '../app/server.js';

export type { ReadyInfo } from '../app/server.js';

export function renderListeners(config: PosternConfig, info: ReadyInfo, indent = '  '): string {
  const lines: string[] = [];
  const width = Math.max(...LISTENER_NAMES.map((n) => n.length));
  const started = new Set<string>();
  for (const l of info.listeners) {
    started.add(l.name);
    lines.push(`${indent}${l.name.padEnd(width)}  ${formatListenAddress({ host: l.host, port: l.port })}`);
  }
  const missing = LISTENER_NAMES.filter((n) => config.listen[n] !== null && !started.has(n));
  if (missing.length > 0) lines.push(`${indent}(not started: ${missing.join(', ')})`);
  return lines.join('\n') + '\n';
}
