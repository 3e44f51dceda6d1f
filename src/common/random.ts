import { randomBytes } from 'node:crypto';

/** Randomness as a dependency, so a seed replays a whole simulated run. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** n random bytes. */
  bytes(n: number): Uint8Array;
}

/** xoshiro128** seeded through splitmix32: small, fast, good enough for simulation. */
export class SeededRandom implements Random {
  private s: Uint32Array;

  constructor(seed: number) {
    let x = seed >>> 0;
    const split = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s = new Uint32Array([split(), split(), split(), split()]);
  }

  private u32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  next(): number {
    return this.u32() / 0x100000000;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Cryptographic randomness for ids, tokens and keys in production. */
export const cryptoRandom: Random = {
  next: () => randomBytes(4).readUInt32BE(0) / 0x100000000,
  int(n) {
    return Math.floor(this.next() * n);
  },
  bytes: (n) => new Uint8Array(randomBytes(n)),
};
