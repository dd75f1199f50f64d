// Unit tables and conversion. Linear units are stored as their size in the
// category's base unit; temperatures convert through Celsius.

export interface Config {
  title: string;
  subtitle: string;
  storageKey: string;
  /** Categories offered, in order; the first is shown first. */
  categories: string[];
}

export interface Unit {
  id: string;
  label: string;
  /** Size in the category's base unit (linear categories only). */
  size: number;
}

export interface Category {
  id: string;
  label: string;
  units: Unit[];
  note?: string;
}

const u = (id: string, label: string, size: number): Unit => ({ id, label, size });

export const categories: Category[] = [
  {
    id: "length",
    label: "Length",
    units: [
      u("mm", "Millimetres", 0.001), u("cm", "Centimetres", 0.01), u("m", "Metres", 1), u("km", "Kilometres", 1000),
      u("in", "Inches", 0.0254), u("ft", "Feet", 0.3048), u("yd", "Yards", 0.9144), u("mi", "Miles", 1609.344),
    ],
  },
  {
    id: "weight",
    label: "Weight",
    units: [u("g", "Grams", 1), u("kg", "Kilograms", 1000), u("oz", "Ounces", 28.349523125), u("lb", "Pounds", 453.59237), u("st", "Stones", 6350.29318)],
  },
  {
    id: "temperature",
    label: "Temperature",
    units: [u("c", "Celsius", 1), u("f", "Fahrenheit", 1), u("k", "Kelvin", 1)],
  },
  {
    id: "volume",
    label: "Volume",
    units: [u("ml", "Millilitres", 0.001), u("l", "Litres", 1), u("tsp", "Teaspoons (US)", 0.00492892), u("tbsp", "Tablespoons (US)", 0.0147868), u("cup", "Cups (US)", 0.236588), u("gal", "Gallons (US)", 3.78541)],
  },
  {
    id: "speed",
    label: "Speed",
    units: [u("ms", "Metres per second", 1), u("kmh", "Kilometres per hour", 1 / 3.6), u("mph", "Miles per hour", 0.44704), u("kn", "Knots", 0.514444)],
  },
  {
    id: "time",
    label: "Time",
    units: [u("s", "Seconds", 1), u("min", "Minutes", 60), u("h", "Hours", 3600), u("d", "Days", 86400), u("wk", "Weeks", 604800)],
  },
  {
    id: "data",
    label: "Data",
    units: [u("b", "Bytes", 1), u("kb", "Kilobytes", 1e3), u("mb", "Megabytes", 1e6), u("gb", "Gigabytes", 1e9), u("tb", "Terabytes", 1e12)],
  },
  {
    id: "currency",
    label: "Currency",
    note: "Sample rates for illustration, not live exchange rates.",
    units: [u("usd", "US dollar", 1), u("eur", "Euro", 1.08), u("gbp", "British pound", 1.27), u("jpy", "Japanese yen", 0.0067), u("cad", "Canadian dollar", 0.73)],
  },
];

function toCelsius(v: number, from: string): number {
  return from === "f" ? ((v - 32) * 5) / 9 : from === "k" ? v - 273.15 : v;
}

function fromCelsius(v: number, to: string): number {
  return to === "f" ? (v * 9) / 5 + 32 : to === "k" ? v + 273.15 : v;
}

/** convert converts value between two units of one category. */
export function convert(category: Category, value: number, from: string, to: string): number {
  if (category.id === "temperature") return fromCelsius(toCelsius(value, from), to);
  const a = category.units.find((x) => x.id === from);
  const b = category.units.find((x) => x.id === to);
  if (!a || !b) return NaN;
  return (value * a.size) / b.size;
}

/** show rounds to six significant digits without trailing zeros. */
export function show(v: number): string {
  return Number.isFinite(v) ? String(Number.parseFloat(v.toPrecision(6))) : "—";
}
