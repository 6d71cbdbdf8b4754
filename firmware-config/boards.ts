import type { Node, Pin } from './schema.ts';

// The pins each `board` has (firmware-config/README.md "Boards and pins"). Pi pins are BCM
// GPIO numbers; Arduino pins are digital numbers or analog `A0`…`A7` as Firmata names them.

export type BoardName = NonNullable<Node['board']>;
export type Driver = Node['driver'];

export interface BoardPins {
  /** how messages name the board: `a pi4`, `an uno`, or `a Raspberry Pi` when only the driver is known */
  readonly label: string;
  readonly family: 'pi' | 'arduino';
  /** the driver that talks to this board */
  readonly driver: 'gpio' | 'firmata';
  /** usable digital pins, inclusive; undefined: not known (a Firmata board of unknown model) */
  readonly digital?: readonly [number, number];
  /** analog pins A0…A(n-1); 0 on a Pi */
  readonly analog: number;
  /** pins that work but carry something else; a warning */
  readonly caution: ReadonlyMap<number, string>;
  /** pins that cannot be used for an input or output; an error */
  readonly taken: ReadonlyMap<number, string>;
}

// Pi 4 and Pi 5 have the same 40-pin header: BCM GPIO 2–27 on it (GPIO 0–1 are the
// HAT ID EEPROM's I2C bus; 14–15 the UART the serial console uses).
const piCaution = (label: string) =>
  new Map<number, string>([
    [0, `is ID_SD, the HAT ID EEPROM's data line on ${label}: it works only while no HAT uses it`],
    [1, `is ID_SC, the HAT ID EEPROM's clock line on ${label}: it works only while no HAT uses it`],
    [14, `is TXD, the serial UART on ${label}: it works only with the serial console and UART turned off`],
    [15, `is RXD, the serial UART on ${label}: it works only with the serial console and UART turned off`],
  ]);
// Firmata talks to the host over the Arduino's hardware serial port on D0/D1.
const serial = (label: string) =>
  new Map<number, string>([
    [0, `is RX, the serial link to the host on ${label}: Firmata needs it`],
    [1, `is TX, the serial link to the host on ${label}: Firmata needs it`],
  ]);

const pi = (label: string): BoardPins => ({
  label,
  family: 'pi',
  driver: 'gpio',
  digital: [0, 27],
  analog: 0,
  caution: piCaution(label),
  taken: new Map(),
});
const arduino = (label: string, analog: number, digital?: readonly [number, number]): BoardPins => ({
  label,
  family: 'arduino',
  driver: 'firmata',
  ...(digital ? { digital } : {}),
  analog,
  caution: new Map(),
  taken: serial(label),
});

export const BOARDS: Readonly<Record<BoardName, BoardPins>> = {
  pi4: pi('a pi4'),
  pi5: pi('a pi5'),
  uno: arduino('an uno', 6, [0, 13]),
  nano: arduino('a nano', 8, [0, 13]),
};

/** With no `board`, the driver still tells the family: every Pi has the same header; an Arduino's model is unknown. */
const BY_DRIVER: Readonly<Record<'gpio' | 'firmata', BoardPins>> = {
  gpio: pi('a Raspberry Pi'),
  firmata: arduino('a Firmata board', 8),
};

/** The pin table for a node: its board's, else its driver's family, else none (sim without a board). */
export function boardFor(board: BoardName | undefined, driver: string | undefined): BoardPins | undefined {
  if (board !== undefined) return BOARDS[board];
  return driver === 'gpio' || driver === 'firmata' ? BY_DRIVER[driver] : undefined;
}

/** `board 'uno' is an Arduino: …` when the driver cannot talk to the board; sim runs any board. */
export function driverMismatch(board: BoardName, driver: string): string | undefined {
  const b = BOARDS[board];
  if (driver === 'sim' || driver === b.driver) return undefined;
  const what = b.family === 'pi' ? 'a Raspberry Pi' : 'an Arduino';
  return `board '${board}' is ${what}: it needs driver '${b.driver}', not '${driver}'`;
}

export interface PinProblem {
  severity: 'error' | 'warning';
  message: string;
}

const analogRange = (b: BoardPins) => (b.analog === 0 ? 'none' : `A0-A${b.analog - 1}`);
const digitalRange = (b: BoardPins) => {
  const [lo, hi] = b.digital ?? [0, 63];
  // the first free pin after the reserved ones: Pi 2–27, Arduino 2–13
  let from = lo;
  while ((b.taken.has(from) || b.caution.has(from)) && from < hi) from++;
  return `${from}-${hi}`;
};

/**
 * What is wrong with `pin` for an input or output that needs a digital or an analog pin.
 * `what` names it in the message (`a door sensor`). `board` undefined: only the kind is checked.
 */
export function checkPin(board: BoardPins | undefined, pin: Pin, need: 'digital' | 'analog', what: string): PinProblem | undefined {
  const error = (message: string): PinProblem => ({ severity: 'error', message });
  if (typeof pin === 'string') {
    if (board?.family === 'pi') return error(`pin '${pin}' is not on ${board.label}: a Raspberry Pi has no analog inputs; use a BCM GPIO number`);
    if (need === 'digital') return error(`${what} needs a digital pin, got analog pin '${pin}'`);
    const n = Number(pin.slice(1));
    if (board && n >= board.analog) return error(`pin '${pin}' is not on ${board.label} (analog pins ${analogRange(board)})`);
    return undefined;
  }
  if (need === 'analog') {
    const where = board && board.analog > 0 ? ` (${analogRange(board)} on ${board.label})` : '';
    return error(`${what} gives an analog voltage: it needs an analog pin${where}, got digital pin ${pin}`);
  }
  if (!board) return undefined;
  const taken = board.taken.get(pin);
  if (taken) return error(`pin ${pin} ${taken}; use ${digitalRange(board)}`);
  if (board.digital && (pin < board.digital[0] || pin > board.digital[1])) {
    const analog = board.analog > 0 ? `; analog pins are ${analogRange(board)}` : '';
    const kind = board.family === 'pi' ? 'a header GPIO' : 'a digital pin';
    return error(`pin ${pin} is not ${kind} on ${board.label} (${digitalRange(board)}${analog})`);
  }
  const caution = board.caution.get(pin);
  if (caution) return { severity: 'warning', message: `pin ${pin} ${caution}` };
  return undefined;
}
