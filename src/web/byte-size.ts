// Sizes as people read them: binary units (1 KiB = 1024 bytes), as quotas are configured.

const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 ? Math.round(value) : value.toFixed(1)} ${UNITS[unit]}`;
}

/** A share in whole percent, 0 to 100 and beyond when over. */
export function percent(used: number, limit: number): number {
  return limit <= 0 ? 0 : Math.floor((used * 100) / limit);
}
