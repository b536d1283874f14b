import { InputError } from '../../core/errors.ts';

/** A problem in an input file, located precisely enough that a person can open the file and fix it. */
export class DataFormatError extends InputError {
  readonly file: string;
  readonly line: number | undefined;
  readonly reason: string;

  constructor(file: string, line: number | undefined, reason: string) {
    super(line === undefined ? `${file}: ${reason}` : `${file}:${line}: ${reason}`);
    this.name = 'DataFormatError';
    this.file = file;
    this.line = line;
    this.reason = reason;
  }
}
