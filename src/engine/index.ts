export { type Capabilities, detectCapabilities } from './capabilities.ts';
