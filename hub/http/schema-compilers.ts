import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

// Fastify's own schema compilers (Ajv for what a request sends, fast-json-stringify for
// response schemas), loaded and run when a route's schema is first used instead of at start
// (README "Benchmarks": the idle hub's memory). Ajv, its formats and URI parser, and
// fast-json-stringify are about 3 MB of heap compiled, and an idle hub answers no request
// with a schema; no route of the hub declares a response schema, so fast-json-stringify
// stays unloaded. Validation is fastify's: the same compiler, with the options fastify gives
// it, compiles the same schema, only later (a schema Ajv refuses answers 500 at its first
// request instead of stopping the start; the tests call every route). One exception: a JSON
// body already has types, so it is checked as sent: fastify's options coerce (`["mia"]` would
// pass as the user "mia", `1` as "1") and drop unknown keys, which a query string needs and a
// body must not get (README "HTTP API": a bad parameter answers 400 naming it).

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;

/** what fastify reads of a validation function: Ajv's `errors` after a call, and `schemaEnv` (then it passes the parent data) */
type Validate = ((data: unknown, dataCxt?: unknown) => unknown) & { readonly errors?: unknown; readonly schemaEnv?: unknown };
type Serialize = (doc: unknown) => string;
/** a factory as fastify calls it: (shared schemas, compiler options) → (route schema) → function */
type Factory<F> = (externalSchemas: unknown, options: unknown) => (routeSchema: unknown) => F;

// resolved from fastify: they are its dependencies, in the versions it was tested with
const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));

/** (shared schemas, options) → (route schema) → the route's compiled function, compiled at its first ask */
function lazyFactory<F>(module: string): Factory<() => F> {
  let selector: Factory<F> | undefined;
  return (externalSchemas, options) => {
    let build: ((routeSchema: unknown) => F) | undefined;
    return (routeSchema) => {
      let fn: F | undefined;
      return () => {
        selector ??= (fromFastify(module) as () => Factory<F>)();
        build ??= selector(externalSchemas, options);
        return (fn ??= build(routeSchema));
      };
    };
  };
}

/** fastify's Ajv options (`{ customOptions, plugins, … }`) for a JSON body: no coercion, unknown keys refused where a schema says so */
function bodyOptions(options: unknown): unknown {
  const o = (options ?? {}) as { customOptions?: Record<string, unknown> };
  return { ...o, customOptions: { ...o.customOptions, coerceTypes: false, removeAdditional: false } };
}

function lazyValidators(): Factory<Validate> {
  const later = lazyFactory<Validate>('@fastify/ajv-compiler');
  return (externalSchemas, options) => {
    const forRoute = later(externalSchemas, options);
    const forBody = later(externalSchemas, bodyOptions(options));
    return (routeSchema) => {
      const compiled = ((routeSchema as { httpPart?: string }).httpPart === 'body' ? forBody : forRoute)(routeSchema);
      const validate: Validate = (data, dataCxt) => compiled()(data, dataCxt);
      // read by fastify around each call: they are the compiled function's own
      Object.defineProperties(validate, {
        errors: { get: () => compiled().errors },
        schemaEnv: { get: () => compiled().schemaEnv },
      });
      return validate;
    };
  };
}

function lazySerializers(): Factory<Serialize> {
  const later = lazyFactory<Serialize>('@fastify/fast-json-stringify-compiler');
  return (externalSchemas, options) => {
    const forRoute = later(externalSchemas, options);
    return (routeSchema) => {
      const compiled = forRoute(routeSchema);
      return (doc) => compiled()(doc);
    };
  };
}

/** `schemaController.compilersFactory` for Fastify(): the default compilers, each loaded and run at its first use */
export function lazySchemaCompilers(): CompilersFactory {
  // fastify's types describe Ajv's own signatures; at run time it calls these as typed above
  return { buildValidator: lazyValidators(), buildSerializer: lazySerializers() } as unknown as CompilersFactory;
}
