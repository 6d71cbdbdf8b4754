import type { IoFactory } from '../io.ts';
import { firmataDriver } from './firmata.ts';
import { gpioDriver } from './gpio.ts';
import { simDriver } from './sim.ts';

/** The default IoFactory: the node's `driver` picks sim, gpio (onoff) or firmata (johnny-five). */
export const defaultIoFactory: IoFactory = (node, opts) => {
  switch (node.driver) {
    case 'sim':
      return simDriver();
    case 'gpio':
      return gpioDriver(node, opts);
    case 'firmata':
      return firmataDriver(node, opts);
  }
};
