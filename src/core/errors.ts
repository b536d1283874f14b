/** Bad input from a caller (a file, an option, a request): reported as such, never as a crash. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}
