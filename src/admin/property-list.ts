// Apple's XML property list format (plist 1.0), for configuration profiles: dict, array,
// string, integer and boolean values, written with every string XML-escaped.

import { xmlEscape } from './xml-text.js';

export type PlistValue = string | number | boolean | PlistValue[] | PlistDict;
export interface PlistDict {
  [key: string]: PlistValue;
}

const HEADER = [
  '<?xml version="1.0" encoding="UTF-8"?>',
  '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
  '<plist version="1.0">',
];

function write(value: PlistValue, indent: string, out: string[]): void {
  if (typeof value === 'string') {
    out.push(`${indent}<string>${xmlEscape(value)}</string>`);
  } else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`plist integer expected, got ${value}`);
    out.push(`${indent}<integer>${value}</integer>`);
  } else if (typeof value === 'boolean') {
    out.push(`${indent}<${value ? 'true' : 'false'}/>`);
  } else if (Array.isArray(value)) {
    out.push(`${indent}<array>`);
    for (const item of value) write(item, `${indent}\t`, out);
    out.push(`${indent}</array>`);
  } else {
    out.push(`${indent}<dict>`);
    // Keys sorted, as plutil writes them: the same profile is the same bytes.
    for (const key of Object.keys(value).sort()) {
      out.push(`${indent}\t<key>${xmlEscape(key)}</key>`);
      write(value[key], `${indent}\t`, out);
    }
    out.push(`${indent}</dict>`);
  }
}

/** The property list document whose root is `root`. */
export function propertyList(root: PlistDict): string {
  const out = [...HEADER];
  write(root, '', out);
  out.push('</plist>', '');
  return out.join('\n');
}
