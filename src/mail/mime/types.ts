// PLACEHOLDER written by the lead so other layers compile; the MIME helper replaces this file.
export interface MimeLimits {
  mimeDepth: number;
  mimeParts: number;
  headerSize: number;
}

export interface MimeRecord {
  preview: string;
  truncated: boolean;
}
