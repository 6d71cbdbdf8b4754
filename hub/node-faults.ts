import type { EventOf, SensorFault } from '../contract/index.ts';

// The latest greetwatch.fault.v1 per sensor of each node, and how many faults each node
// raised, for node health in /live and on the floor page. Bounded: a node can name at most
// MAX_SENSORS sensors here (a misbehaving node cannot grow the hub's memory); past that,
// the sensor whose fault is oldest makes room.

const MAX_SENSORS = 64;

type FaultData = EventOf<'greetwatch.fault.v1'>['data'];

export class NodeFaults {
  readonly #latest = new Map<string, Map<string, SensorFault>>();
  readonly #counts = new Map<string, number>();

  /** `timeMs` is the fault's time on the hub's clock (node clock offset removed) */
  record(node: string, data: FaultData, timeMs: number): void {
    let sensors = this.#latest.get(node);
    if (!sensors) this.#latest.set(node, (sensors = new Map<string, SensorFault>()));
    sensors.delete(data.sensor); // re-insert: Map order is then oldest first
    if (sensors.size >= MAX_SENSORS) sensors.delete(sensors.keys().next().value!);
    const fault: SensorFault = { sensor: data.sensor, kind: data.kind, time: new Date(timeMs).toISOString() };
    if (data.detail !== undefined) fault.detail = data.detail;
    sensors.set(data.sensor, fault);
    if (data.kind !== 'recovered') this.#counts.set(node, (this.#counts.get(node) ?? 0) + 1);
  }

  /** the latest fault of each sensor, by sensor id */
  latest(node: string): SensorFault[] {
    return [...(this.#latest.get(node)?.values() ?? [])].sort((a, b) => a.sensor.localeCompare(b.sensor));
  }

  count(node: string): number {
    return this.#counts.get(node) ?? 0;
  }
}
