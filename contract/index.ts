// The one typed contract module (CONTRACT.md): topics, event types, runtime validator,
// API shapes. Edge, hub, dashboard and tests import from here; types come from the schemas.
export * from './ids.ts';
export * from './topics.ts';
export * from './events.ts';
export * from './api.ts';
export * from './history.ts';
export * from './errors.ts';
export * from './validate.ts';
export * from './levels.ts';
export * from './redact.ts';
export * from './alerts.ts';
