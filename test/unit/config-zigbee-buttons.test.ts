// Zigbee2MQTT buttons are checked against the rest of the store file (README "Zigbee2MQTT
// buttons"): their hub-side node is no real node, their ids share the sensors' and buttons'
// namespace, one friendly name maps to one button, and a wearable's staff member is listed.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../firmware-config/load.ts';
import { configRefusal } from '../helpers/store-config.ts';

const store = (buttons: string, node = '') => `store:
  id: s1
staff:
  - { id: anna }
nodes:
  - id: door-1
    sensors:
      - { id: beam, kind: door, pin: 17 }
    buttons:
      - { id: till, pin: 27 }
integrations:
  zigbee2mqtt:${node}
    buttons:
${buttons}`;

describe('config: Zigbee2MQTT buttons', () => {
  it('takes buttons of their own', () => {
    const cfg = parseConfig(store('      - { friendlyName: "Anna fob", id: fob-anna, staff: anna }\n'), 'z.yaml');
    expect(cfg.integrations.zigbee2mqtt.buttons.map((b) => b.id)).toEqual(['fob-anna']);
  });
  it('refuses an id a node already uses, a friendly name twice and staff that is not listed', () => {
    const msg = configRefusal(
      store('      - { friendlyName: "Till", id: till }\n      - { friendlyName: "Till", id: fob-anna, staff: anan }\n'),
      'z.yaml',
    );
    expect(msg.split('\n')).toEqual([
      "z.yaml:14:37 integrations.zigbee2mqtt.buttons[0].id: duplicate sensor/button id 'till' (first at nodes[0].buttons[0].id, 10:15)",
      "z.yaml:15:25 integrations.zigbee2mqtt.buttons[1].friendlyName: duplicate Zigbee friendly name 'Till' (first at integrations.zigbee2mqtt.buttons[0].friendlyName, 14:25)",
      "z.yaml:15:54 integrations.zigbee2mqtt.buttons[1].staff: staff 'anan' is not listed under staff; did you mean 'anna'?",
    ]);
  });
  it("refuses a hub-side node id that is a node of the store's", () => {
    const msg = configRefusal(store('      - { friendlyName: "Till", id: z-till }\n', '\n    node: door-1'), 'z.yaml');
    expect(msg).toMatch(/^z\.yaml:13:11 integrations\.zigbee2mqtt\.node: the Zigbee buttons' node 'door-1' is also a node of the store \(nodes\[0\]\.id, 6:9\): give integrations\.zigbee2mqtt\.node an id of its own$/m);
  });
});
