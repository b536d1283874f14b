/**
 * Deterministic pin art: an SVG drawn from the pin's topic (its palette) and id (its shapes and height), so
 * the demo needs no image network and a pin looks the same on every load. Pure string building from numbers
 * and fixed colours: no catalog text reaches the markup.
 */

/** FNV-1a, 32 bits: a stable hash of a string. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a small seeded generator, enough for shapes. */
function generator(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Height / width of a pin: a few fixed ratios, as on a real board. */
const RATIOS = [1, 1.25, 1.5, 1.333, 0.8, 1.6];

export interface PinArt {
  /** `data:` URL of the SVG. */
  url: string;
  width: number;
  height: number;
  /** The topic's base hue, for accents. */
  hue: number;
}

export function topicHue(topic: string): number {
  return hash(topic) % 360;
}

export function pinArt(itemId: string, topic: string): PinArt {
  const random = generator(hash(itemId));
  const hue = topicHue(topic);
  const width = 240;
  const height = Math.round(width * RATIOS[hash(`${itemId}/ratio`) % RATIOS.length]);
  const colour = (shift: number, s: number, l: number) => `hsl(${(hue + shift + 360) % 360} ${s}% ${l}%)`;
  const shapes: string[] = [];
  const count = 4 + Math.floor(random() * 5);
  for (let i = 0; i < count; i++) {
    const fill = colour((random() - 0.5) * 70, 45 + random() * 40, 35 + random() * 40);
    const x = random() * width;
    const y = random() * height;
    const size = 20 + random() * width * 0.6;
    const opacity = (0.35 + random() * 0.5).toFixed(2);
    const kind = Math.floor(random() * 3);
    if (kind === 0) {
      shapes.push(
        `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${(size / 2).toFixed(1)}" fill="${fill}" opacity="${opacity}"/>`,
      );
    } else if (kind === 1) {
      const angle = Math.round(random() * 90);
      shapes.push(
        `<rect x="${(x - size / 2).toFixed(1)}" y="${(y - size / 3).toFixed(1)}" width="${size.toFixed(1)}" height="${((size * 2) / 3).toFixed(1)}" rx="${(size / 10).toFixed(1)}" fill="${fill}" opacity="${opacity}" transform="rotate(${angle} ${x.toFixed(1)} ${y.toFixed(1)})"/>`,
      );
    } else {
      const amplitude = 10 + random() * 30;
      const base = y;
      const path = `M0 ${base.toFixed(1)} Q ${(width / 4).toFixed(1)} ${(base - amplitude).toFixed(1)} ${(width / 2).toFixed(1)} ${base.toFixed(1)} T ${width} ${base.toFixed(1)} V ${height} H 0 Z`;
      shapes.push(`<path d="${path}" fill="${fill}" opacity="${opacity}"/>`);
    }
  }
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">` +
    `<rect width="100%" height="100%" fill="${colour(0, 35, 88)}"/>${shapes.join('')}</svg>`;
  return { url: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`, width, height, hue };
}
