import { InvalidArgumentError } from 'commander';
import { DATA_FORMATS, type DataFormat } from '../core/dataset.ts';
import { type PositiveSet, PROTOCOLS, type Protocol } from '../core/eval/split.ts';

/** Commander parsers: a bad value is a usage error (exit 2) that lists what is allowed. */
export function oneOf<T extends string>(allowed: readonly T[], what: string) {
  return (value: string): T => {
    if (!allowed.includes(value as T))
      throw new InvalidArgumentError(`${what} must be one of ${allowed.join(', ')}`);
    return value as T;
  };
}

export function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) <= 0)
    throw new InvalidArgumentError('must be a positive integer');
  return Number(value);
}

export function nonNegativeInteger(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a non-negative integer');
  return Number(value);
}

export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError('must be a non-negative number');
  return n;
}

export function integerList(value: string): number[] {
  return value.split(',').map((part) => positiveInteger(part.trim()));
}

export const parseFormat = oneOf<DataFormat>(DATA_FORMATS, 'format');
export const parseProtocol = oneOf<Protocol>(PROTOCOLS, 'protocol');
export const parsePositives = oneOf<PositiveSet>(['engaged', 'all'], 'positives');
