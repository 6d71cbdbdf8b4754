// A long misspelt value or key (README "Configuration"): did-you-mean measures edit distance at
// length × length per candidate, so a pasted 100 kB value used to abort Node with a fatal
// out-of-memory error (and a few kB took seconds to tens of seconds, on a hub's reload too).
// Such a value is refused with the loader's own error, naming where, and gets no suggestion.
import { describe, expect, it } from 'vitest';
import { configRefusal } from '../helpers/store-config.ts';

const refusal = (text: string): string => configRefusal(text, 'long.yaml');

describe("config: a very long value, key or file", () => {
  it('a 100 kB time zone is refused at its line, with no suggestion', () => {
    const msg = refusal(`store:\n  id: s1\n  timezone: ${'E'.repeat(100_000)}\n`);
    expect(msg).toMatch(/^long\.yaml:3:13 store\.timezone: 'E+' is not a valid IANA time zone$/m);
  });
  it('a 100 kB unknown key is refused at its line, with no suggestion', () => {
    // an explicit key (`? …`): YAML allows a plain one at most 1024 characters
    const msg = refusal(`store:\n  id: s1\n  ? ${'k'.repeat(100_000)}\n  : 1\n`);
    expect(msg).toMatch(/^long\.yaml:3:5 store\.k+: unknown key/m);
    expect(msg).not.toMatch(/did you mean/);
  });
  it('a short misspelling still gets one', () => {
    expect(refusal(`store:\n  id: s1\n  timezone: Europe/Berln\n`)).toMatch(/did you mean 'Europe\/Berlin'\?/);
  });
  it('a file over 2,000,000 characters is refused before it is parsed (10 MB took 11 s and 1.4 GB)', () => {
    const msg = refusal(`store:\n  id: s1\n  name: ${'x'.repeat(3_000_000)}\n`);
    expect(msg).toBe('long.yaml:1:1: the file has 3,000,025 characters; a store file may have at most 2,000,000');
  });
});
