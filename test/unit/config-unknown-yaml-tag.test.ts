// YAML's own tags beyond the core schema (firmware-config/README.md "Checks": an unknown tag is
// refused): `!!js/function` used to pass as the plain string it is written as, `!!binary` and
// `!!set` as values of another kind. Each is refused at its position; `!!str` and the like pass.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../firmware-config/load.ts';

const load = (name: string) => parseConfig(`store:\n  id: s1\n  name: ${name}\n`, 'tag.yaml');

describe('config: YAML tags', () => {
  it.each([
    ['!!js/function "function () { return 1 }"', '!!js/function'],
    ['!!python/object:os.system ls', '!!python/object:os.system'],
    ['!!binary aGk=', '!!binary'],
    ['!<tag:example.com,2000:app/x> Demo', '!<tag:example.com,2000:app/x>'],
  ])('refuses %s at its position', (value, shown) => {
    expect(() => load(value)).toThrow(ConfigError);
    expect(() => load(value)).toThrow(new RegExp(`^tag\\.yaml:3:9 store\\.name: unknown tag '${shown.replace(/[.*+?^${}()|[\]\\/!]/g, '\\$&')}' \\(of YAML's own, this file takes !!str, `, 'm'));
  });
  it('takes the core schema\'s', () => {
    expect(load('!!str 1234').store.name).toBe('1234');
  });
});
