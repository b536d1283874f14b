import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { DataFormatError } from './errors.ts';

export type LoadProgress = (bytesRead: number, totalBytes: number) => void;

export interface Line {
  /** 1-based line number in the file. */
  number: number;
  text: string;
}

export interface ReadLinesOptions {
  encoding?: BufferEncoding;
  onProgress?: LoadProgress;
  /** An empty file is an error unless this is set (optional side files). */
  allowEmpty?: boolean;
}

/** Checks that `file` exists and is a regular file, and returns its size. */
export function fileSize(file: string): number {
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(file);
  } catch {
    throw new DataFormatError(file, undefined, 'file not found');
  }
  if (!stats.isFile()) throw new DataFormatError(file, undefined, 'is not a regular file');
  return stats.size;
}

/**
 * Streams a text file line by line (never the whole file in one string), skipping blank lines,
 * so multi-gigabyte logs load in constant memory besides what the caller keeps.
 */
export async function* readLines(file: string, options: ReadLinesOptions = {}): AsyncGenerator<Line> {
  const totalBytes = fileSize(file);
  if (totalBytes === 0 && !options.allowEmpty) throw new DataFormatError(file, 1, 'file is empty');
  const stream = createReadStream(file, { encoding: options.encoding ?? 'utf8', highWaterMark: 1 << 20 });
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let number = 0;
  let yielded = 0;
  try {
    for await (const raw of lines) {
      number++;
      if (options.onProgress && (number & 0x3fff) === 0) options.onProgress(stream.bytesRead, totalBytes);
      const text = raw.trim();
      if (text.length === 0) continue;
      yielded++;
      yield { number, text };
    }
  } finally {
    lines.close();
    stream.destroy();
  }
  options.onProgress?.(totalBytes, totalBytes);
  if (yielded === 0 && !options.allowEmpty) throw new DataFormatError(file, 1, 'file has no data lines');
}

/** Parses a non-negative integer id field, or throws naming the file, line and column. */
export function parseIntegerField(
  value: string | undefined,
  file: string,
  line: number,
  column: string,
): number {
  if (value === undefined || !/^\d+$/.test(value)) {
    throw new DataFormatError(file, line, `${column} must be a non-negative integer, got "${value ?? ''}"`);
  }
  return Number(value);
}

export function parseNumberField(
  value: string | undefined,
  file: string,
  line: number,
  column: string,
): number {
  const parsed = value === undefined || value === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(parsed))
    throw new DataFormatError(file, line, `${column} must be a number, got "${value ?? ''}"`);
  return parsed;
}

export function expectColumns(
  parts: string[],
  count: number,
  file: string,
  line: number,
  layout: string,
): void {
  if (parts.length !== count) {
    throw new DataFormatError(file, line, `expected ${count} columns (${layout}), found ${parts.length}`);
  }
}
