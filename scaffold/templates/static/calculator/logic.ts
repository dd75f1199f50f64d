// Arithmetic without eval: a small recursive-descent parser for + - * / %,
// parentheses and decimals, plus the formulas of the calculator variants.

export type Variant = "arithmetic" | "tip" | "bmi" | "loan";

export interface Config {
  title: string;
  subtitle: string;
  storageKey: string;
  variant: Variant;
}

/** evaluate computes an expression such as "12.5 * (3 + 4) / 2"; it throws on malformed input or division by zero. */
export function evaluate(expression: string): number {
  const src = expression.replace(/×/g, "*").replace(/÷/g, "/").replace(/−/g, "-");
  let pos = 0;
  const peek = () => {
    while (src[pos] === " ") pos++;
    return src[pos] ?? "";
  };
  const fail = (): never => {
    throw new Error("Invalid expression");
  };
  function primary(): number {
    const c = peek();
    if (c === "(") {
      pos++;
      const v = sum();
      if (peek() !== ")") fail();
      pos++;
      return v;
    }
    if (c === "-") {
      pos++;
      return -primary();
    }
    if (c === "+") {
      pos++;
      return primary();
    }
    const m = /^\d*\.?\d+(?:e[+-]?\d+)?|^\d+\./i.exec(src.slice(pos));
    if (!m) return fail();
    pos += m[0].length;
    let v = Number(m[0]);
    if (peek() === "%") {
      pos++;
      v /= 100;
    }
    return v;
  }
  function product(): number {
    let v = primary();
    for (;;) {
      const c = peek();
      if (c !== "*" && c !== "/") return v;
      pos++;
      const r = primary();
      if (c === "/" && r === 0) throw new Error("Cannot divide by zero");
      v = c === "*" ? v * r : v / r;
    }
  }
  function sum(): number {
    let v = product();
    for (;;) {
      const c = peek();
      if (c !== "+" && c !== "-") return v;
      pos++;
      const r = product();
      v = c === "+" ? v + r : v - r;
    }
  }
  const v = sum();
  if (peek() !== "") fail();
  if (!Number.isFinite(v)) throw new Error("Result is too large");
  return v;
}

/** show formats a result without floating-point noise (0.1 + 0.2 shows 0.3). */
export function show(v: number): string {
  return String(Number.parseFloat(v.toPrecision(12)));
}

export interface Input {
  key: string;
  label: string;
  value: number;
}

export interface Formula {
  inputs: Input[];
  compute: (v: Record<string, number>) => { label: string; value: string }[];
}

const money = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "—");

export const formulas: Record<Exclude<Variant, "arithmetic">, Formula> = {
  tip: {
    inputs: [
      { key: "bill", label: "Bill amount", value: 50 },
      { key: "percent", label: "Tip %", value: 15 },
      { key: "people", label: "People", value: 2 },
    ],
    compute: ({ bill, percent, people }) => {
      const tip = (bill * percent) / 100;
      const split = people >= 1 ? Math.floor(people) : 1;
      return [
        { label: "Tip", value: money(tip) },
        { label: "Total", value: money(bill + tip) },
        { label: "Each person pays", value: money((bill + tip) / split) },
      ];
    },
  },
  bmi: {
    inputs: [
      { key: "weight", label: "Weight (kg)", value: 70 },
      { key: "height", label: "Height (cm)", value: 175 },
    ],
    compute: ({ weight, height }) => {
      const bmi = height > 0 ? weight / (height / 100) ** 2 : NaN;
      const band = !Number.isFinite(bmi) ? "—" : bmi < 18.5 ? "Underweight" : bmi < 25 ? "Healthy" : bmi < 30 ? "Overweight" : "Obese";
      return [
        { label: "BMI", value: Number.isFinite(bmi) ? bmi.toFixed(1) : "—" },
        { label: "Range", value: band },
      ];
    },
  },
  loan: {
    inputs: [
      { key: "amount", label: "Loan amount", value: 200000 },
      { key: "rate", label: "Interest rate % per year", value: 5 },
      { key: "years", label: "Years", value: 25 },
    ],
    compute: ({ amount, rate, years }) => {
      const n = Math.round(years * 12);
      const r = rate / 100 / 12;
      const monthly = n <= 0 ? NaN : r === 0 ? amount / n : (amount * r) / (1 - (1 + r) ** -n);
      return [
        { label: "Monthly payment", value: money(monthly) },
        { label: "Total paid", value: money(monthly * n) },
        { label: "Total interest", value: money(monthly * n - amount) },
      ];
    },
  },
};
