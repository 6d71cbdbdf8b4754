import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { lazySchemaCompilers } from '../../hub/http/schema-compilers.ts';

// hub/http/schema-compilers.ts: fastify's own compilers, loaded at a route's first use, must
// validate and serialise exactly as the defaults do, except that a JSON body is checked as
// sent (no coercion, unknown keys refused). The same routes on a fastify with the default
// compilers are the oracle (the hub's routes declare no response schema, so this is where the
// serialiser is exercised).

function app(lazy: boolean): FastifyInstance {
  const f = Fastify(lazy ? { schemaController: { compilersFactory: lazySchemaCompilers() } } : {});
  f.post(
    '/s/:id',
    {
      schema: {
        params: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] },
        querystring: { type: 'object', properties: { n: { type: 'integer', minimum: 1 } } },
        body: { type: 'object', properties: { name: { type: 'string', minLength: 2 } }, required: ['name'], additionalProperties: false },
        response: { 200: { type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' }, n: { type: 'integer' }, body: { type: 'object', additionalProperties: true } } } },
      },
    },
    async (req) => {
      const { id } = req.params as { id: number };
      const { n } = req.query as { n?: number };
      // `secret` is not in the response schema: the serialiser leaves it out
      return { id, name: (req.body as { name: string }).name, n: n ?? 1, body: req.body, secret: 'x' };
    },
  );
  return f;
}

const lazy = app(true);
const eager = app(false);
afterAll(async () => {
  await Promise.all([lazy.close(), eager.close()]);
});

describe('lazy schema compilers', () => {
  const requests = [
    { url: '/s/7?n=3', payload: { name: 'anna' } },
    { url: '/s/x', payload: { name: 'anna' } },
    { url: '/s/7?n=0', payload: { name: 'anna' } },
    { url: '/s/7', payload: { name: 'a' } },
    { url: '/s/7', payload: { other: 'anna' } },
  ];

  it('answer every request as the default compilers do', async () => {
    for (const r of requests) {
      const [a, b] = await Promise.all([lazy, eager].map((f) => f.inject({ method: 'POST', ...r })));
      expect({ status: a!.statusCode, body: a!.body }, r.url).toEqual({ status: b!.statusCode, body: b!.body });
    }
  });

  it('check a JSON body as sent, where the defaults coerce it or drop keys', async () => {
    const cases = [
      { payload: { name: 'anna', extra: 1 }, message: /body must NOT have additional properties/ },
      { payload: { name: ['anna'] }, message: /body\/name must be string/ },
      { payload: { name: 1234 }, message: /body\/name must be string/ },
    ];
    for (const c of cases) {
      const [a, b] = await Promise.all([lazy, eager].map((f) => f.inject({ method: 'POST', url: '/s/7', payload: c.payload })));
      expect(b!.statusCode, 'the defaults take it').toBe(200);
      expect(a!.statusCode).toBe(400);
      expect(a!.json<{ message: string }>().message).toMatch(c.message);
    }
  });

  it('validate and serialise (the oracle is not trivially equal)', async () => {
    const ok = await lazy.inject({ method: 'POST', url: '/s/7?n=3', payload: { name: 'anna' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toBe('{"id":7,"name":"anna","n":3,"body":{"name":"anna"}}');
    const short = await lazy.inject({ method: 'POST', url: '/s/7', payload: { name: 'a' } });
    expect(short.statusCode).toBe(400);
    expect(short.json<{ message: string }>().message).toMatch(/body\/name must NOT have fewer than 2 characters/);
  });
});
