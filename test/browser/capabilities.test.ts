import { describe, expect, it } from 'vitest';
import { detectCapabilities } from '../../src/engine/index.ts';

describe('detectCapabilities', () => {
  it('finds the WebGPU adapter that headless Chromium exposes with --enable-unsafe-webgpu', async () => {
    const caps = await detectCapabilities();
    expect(caps.webgpu.available).toBe(true);
    if (!caps.webgpu.available) return;
    expect(caps.webgpu.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20);
    expect(typeof caps.webgpu.shaderF16).toBe('boolean');
    expect(caps.hardwareConcurrency).toBeGreaterThanOrEqual(1);
    console.info(JSON.stringify(caps));
  });
});
