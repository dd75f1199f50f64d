//go:build ignore

package main

import "strings"

// Bases 13–15: the third batch, held out. Written (and their score
// recorded in the commit that added them) before any rule for the classes
// of issue 17 it exercises was written: helper parameters typed from
// agreeing call sites, property names the compiler has no suggestion for,
// Node globals in browser code (process.env, require, Buffer) and JSX
// elements left without their closing tag. Mixed with mistakes of classes
// the fixer already had, in layouts the corpus did not have (feature
// folders, services/ and hooks/, a flat app with a ui/ folder).

var recipesFeature = base{
	name: "recipes",
	set:  "heldout-3",
	files: map[string]string{
		"package.json":      pkg("recipe-box", "nanoid\": \"^5.0.0"),
		"tsconfig.json":     tsconfigPlain,
		"src/vite-env.d.ts": "/// <reference types=\"vite/client\" />\n",
		"src/main.tsx":      mainStd,
		"src/features/recipes/types.ts": `export interface Recipe {
  id: string;
  title: string;
  minutes: number;
  servings: number;
  ingredients: string[];
  tags: string[];
}

export type NewRecipe = Omit<Recipe, "id">;
`,
		"src/features/recipes/format.ts": `export function formatMinutes(total: number): string {
  const h = Math.floor(total / 60);
  const m = total % 60;
  if (h === 0) return m + " min";
  return m === 0 ? h + " h" : h + " h " + m + " min";
}

export function plural(n: number, word: string): string {
  return n === 1 ? n + " " + word : n + " " + word + "s";
}
`,
		"src/lib/api.ts": `const BASE_URL = import.meta.env.VITE_API_URL ?? "/api";

export async function getJSON<T>(path: string): Promise<T> {
  const res = await fetch(BASE_URL + path);
  if (!res.ok) throw new Error("request failed: " + res.status);
  return (await res.json()) as T;
}
`,
		"src/features/recipes/recipeStore.ts": `import { nanoid } from "nanoid";
import type { NewRecipe, Recipe } from "./types";

let recipes: Recipe[] = [];
const listeners = new Set<() => void>();

export function subscribe(fn: () => void): () => void {
  listeners.add(fn);
  return () => {
    listeners.delete(fn);
  };
}

export function snapshot(): Recipe[] {
  return recipes;
}

export function addRecipe(input: NewRecipe): void {
  recipes = [...recipes, { ...input, id: nanoid() }];
  listeners.forEach((fn) => fn());
}

export function replaceAll(next: Recipe[]): void {
  recipes = next;
  listeners.forEach((fn) => fn());
}
`,
		"src/features/recipes/RecipeCard.tsx": `import type { Recipe } from "./types";
import { formatMinutes, plural } from "./format";

export function RecipeCard({ recipe }: { recipe: Recipe }) {
  return (
    <article className="recipe-card">
      <h3>{recipe.title}</h3>
      <p className="meta">
        {formatMinutes(recipe.minutes)} · {plural(recipe.servings, "serving")}
      </p>
      <ul className="tags">
        {recipe.tags.map((t) => (
          <li key={t}>{t}</li>
        ))}
      </ul>
      <p className="count">{plural(recipe.ingredients.length, "ingredient")}</p>
    </article>
  );
}
`,
		"src/features/recipes/RecipeList.tsx": `import { useEffect, useSyncExternalStore } from "react";
import { getJSON } from "../../lib/api";
import { RecipeCard } from "./RecipeCard";
import { replaceAll, snapshot, subscribe } from "./recipeStore";
import type { Recipe } from "./types";

export default function RecipeList() {
  const recipes = useSyncExternalStore(subscribe, snapshot);
  useEffect(() => {
    getJSON<Recipe[]>("/recipes").then(replaceAll).catch(() => replaceAll([]));
  }, []);
  const quick = recipes.filter((r) => r.minutes <= 30);
  return (
    <section>
      <h2>Recipes ({recipes.length})</h2>
      <p>{quick.length} ready in half an hour</p>
      <div className="grid">
        {recipes.map((r) => (
          <RecipeCard key={r.id} recipe={r} />
        ))}
      </div>
    </section>
  );
}
`,
		"src/App.tsx": `import RecipeList from "./features/recipes/RecipeList";

export default function App() {
  return (
    <main className="app">
      <header>
        <h1>Recipe box</h1>
      </header>
      <RecipeList />
    </main>
  );
}
`,
	},
	mistakes: []mistake{
		{id: "process-env", about: "reads the API URL from process.env (create-react-app style) in a Vite app",
			edits: []ed{{"src/lib/api.ts", `import.meta.env.VITE_API_URL ?? "/api"`, `process.env.REACT_APP_API_URL ?? "/api"`}},
			wants: []want{{"src/lib/api.ts", "contains", "import.meta.env.VITE_API_URL"}, {"src/lib/api.ts", "lacks", "process.env"}}},
		{id: "untyped-helper", about: "declares the format helper's parameter without a type; every caller passes a number",
			edits: []ed{{"src/features/recipes/format.ts", "export function formatMinutes(total: number): string {", "export function formatMinutes(total): string {"}},
			wants: []want{{"src/features/recipes/format.ts", "contains", "export function formatMinutes(total: number): string {"}}},
		{id: "unclosed-p", about: "leaves the meta paragraph without its closing tag",
			edits: []ed{{"src/features/recipes/RecipeCard.tsx", "        {formatMinutes(recipe.minutes)} · {plural(recipe.servings, \"serving\")}\n      </p>\n", "        {formatMinutes(recipe.minutes)} · {plural(recipe.servings, \"serving\")}\n"}},
			wants: []want{{"src/features/recipes/RecipeCard.tsx", "matches", `\{plural\(recipe\.servings, "serving"\)\}\s*</p>\s*<ul className="tags">`}}},
		{id: "require-nanoid", about: "requires nanoid CommonJS-style in an ES module",
			edits: []ed{{"src/features/recipes/recipeStore.ts", `import { nanoid } from "nanoid";`, `const { nanoid } = require("nanoid");`}},
			wants: []want{{"src/features/recipes/recipeStore.ts", "contains", `import { nanoid } from "nanoid";`}, {"src/features/recipes/recipeStore.ts", "lacks", "require("}}},
		{id: "renamed-field", about: "reads recipe.name; Recipe has title (a different word: the author's call)", intent: true,
			edits: []ed{{"src/features/recipes/RecipeCard.tsx", "<h3>{recipe.title}</h3>", "<h3>{recipe.name}</h3>"}}},
		{id: "field-abbrev", about: "reads recipe.ingredientList; Recipe has ingredients",
			edits: []ed{{"src/features/recipes/RecipeCard.tsx", "{plural(recipe.ingredients.length, \"ingredient\")}", "{plural(recipe.ingredientList.length, \"ingredient\")}"}},
			wants: []want{{"src/features/recipes/RecipeCard.tsx", "contains", "{plural(recipe.ingredients.length, \"ingredient\")}"}}},
	},
}

var habitsFlat = base{
	name: "habits",
	set:  "heldout-3",
	files: map[string]string{
		"package.json": pkg("habit-streaks"),
		"tsconfig.json": strings.Replace(tsconfigVerbatim, `"noEmit": true`, `"noEmit": true,
    "types": ["vite/client"]`, 1),
		"src/main.tsx": mainStd,
		"src/habits.ts": `export interface Habit {
  id: number;
  label: string;
  color: string;
  doneDays: string[];
}

export function todayKey(d: Date = new Date()): string {
  return d.toISOString().slice(0, 10);
}

export function streakOf(days: string[]): number {
  const set = new Set(days);
  let n = 0;
  const d = new Date();
  while (set.has(todayKey(d))) {
    n++;
    d.setDate(d.getDate() - 1);
  }
  return n;
}

export function load(): Habit[] {
  const raw = localStorage.getItem("habits");
  return raw ? (JSON.parse(raw) as Habit[]) : [];
}

export function save(habits: Habit[]): void {
  localStorage.setItem("habits", JSON.stringify(habits));
}
`,
		"src/ui/HabitRow.tsx": `import { streakOf, todayKey, type Habit } from "../habits";

interface Props {
  habit: Habit;
  onToggle: (id: number) => void;
}

export function HabitRow({ habit, onToggle }: Props) {
  const done = habit.doneDays.includes(todayKey());
  return (
    <li className="habit" style={{ borderColor: habit.color }}>
      <label>
        <input type="checkbox" checked={done} onChange={() => onToggle(habit.id)} />
        {habit.label}
      </label>
      <span className="streak">{streakOf(habit.doneDays)} days</span>
    </li>
  );
}
`,
		"src/ui/Summary.tsx": `import { streakOf, type Habit } from "../habits";

export default function Summary({ habits }: { habits: Habit[] }) {
  const best = habits.reduce((m, h) => Math.max(m, streakOf(h.doneDays)), 0);
  return (
    <footer className="summary">
      <span>{habits.length} habits</span>
      <span>Best streak: {best}</span>
    </footer>
  );
}
`,
		"src/App.tsx": `import { useEffect, useState } from "react";
import { load, save, todayKey, type Habit } from "./habits";
import { HabitRow } from "./ui/HabitRow";
import Summary from "./ui/Summary";

const debug = import.meta.env.MODE !== "production";

export default function App() {
  const [habits, setHabits] = useState<Habit[]>(load);
  const [label, setLabel] = useState("");
  useEffect(() => {
    save(habits);
    if (debug) console.log("saved", habits.length);
  }, [habits]);
  const add = () => {
    if (!label.trim()) return;
    setHabits([...habits, { id: Date.now(), label: label.trim(), color: "#4a7", doneDays: [] }]);
    setLabel("");
  };
  const toggle = (id: number) => {
    const day = todayKey();
    setHabits(
      habits.map((h) =>
        h.id !== id ? h : { ...h, doneDays: h.doneDays.includes(day) ? h.doneDays.filter((x) => x !== day) : [...h.doneDays, day] },
      ),
    );
  };
  return (
    <div className="habits-app">
      <h1>Streaks</h1>
      <div className="add">
        <input value={label} onChange={(e) => setLabel(e.target.value)} placeholder="New habit" />
        <button onClick={add}>Add</button>
      </div>
      <ul>
        {habits.map((h) => (
          <HabitRow key={h.id} habit={h} onToggle={toggle} />
        ))}
      </ul>
      <Summary habits={habits} />
    </div>
  );
}
`,
	},
	mistakes: []mistake{
		{id: "untyped-shared-helper", about: "declares streakOf's parameter without a type; both callers pass a string[]",
			edits: []ed{{"src/habits.ts", "export function streakOf(days: string[]): number {", "export function streakOf(days): number {"}},
			wants: []want{{"src/habits.ts", "contains", "export function streakOf(days: string[]): number {"}}},
		{id: "node-env", about: "checks process.env.NODE_ENV in browser code, in a Vite app without vite-env.d.ts",
			edits: []ed{{"src/App.tsx", `const debug = import.meta.env.MODE !== "production";`, `const debug = process.env.NODE_ENV !== "production";`}},
			wants: []want{{"src/App.tsx", "lacks", "process.env"}, {"src/App.tsx", "matches", `import\.meta\.env\.(MODE !== "production"|DEV)`}}},
		{id: "unclosed-label", about: "leaves the checkbox's label without its closing tag",
			edits: []ed{{"src/ui/HabitRow.tsx", "        {habit.label}\n      </label>\n", "        {habit.label}\n"}},
			wants: []want{{"src/ui/HabitRow.tsx", "matches", `\{habit\.label\}\s*</label>\s*<span className="streak">`}}},
		{id: "buffer-export", about: "builds a base64 export link with Buffer, which the browser lacks: how to encode is the author's call", intent: true,
			edits: []ed{{"src/ui/Summary.tsx", "      <span>Best streak: {best}</span>\n", "      <span>Best streak: {best}</span>\n      <a download=\"habits.json\" href={\"data:application/json;base64,\" + Buffer.from(JSON.stringify(habits)).toString(\"base64\")}>\n        Export\n      </a>\n"}}},
		{id: "class-attr", about: "writes class on the summary footer",
			edits: []ed{{"src/ui/Summary.tsx", `<footer className="summary">`, `<footer class="summary">`}},
			wants: []want{{"src/ui/Summary.tsx", "contains", `<footer className="summary">`}}},
		{id: "helper-mixed-args", about: "adds a helper whose callers pass a number and a string: its type is the author's call", intent: true,
			edits: []ed{{"src/ui/Summary.tsx", "export default function Summary", "function badge(value) {\n  return \"[\" + value + \"]\";\n}\n\nexport default function Summary"}, {"src/ui/Summary.tsx", "<span>{habits.length} habits</span>", "<span>{badge(habits.length)} habits {badge(\"total\")}</span>"}}},
	},
}

var inventoryServices = base{
	name: "inventory",
	set:  "heldout-3",
	files: map[string]string{
		"package.json":      pkg("stock-room", "clsx\": \"^2.1.0"),
		"tsconfig.json":     tsconfigPlain,
		"src/vite-env.d.ts": "/// <reference types=\"vite/client\" />\n",
		"src/main.tsx":      mainStd,
		"src/services/items.ts": `export interface Item {
  sku: string;
  description: string;
  quantity: number;
  unitPrice: number;
  salePrice: number;
  reorderLevel: number;
}

export const SEED: Item[] = [
  { sku: "A-100", description: "Hex bolts (box)", quantity: 40, unitPrice: 4.5, salePrice: 6, reorderLevel: 10 },
  { sku: "B-220", description: "Wood glue", quantity: 6, unitPrice: 3.2, salePrice: 5, reorderLevel: 8 },
];
`,
		"src/utils/money.ts": `export function formatCurrency(value: number): string {
  return "$" + value.toFixed(2);
}
`,
		"src/hooks/useInventory.ts": `import { useMemo, useState } from "react";
import { SEED, type Item } from "../services/items";

export const totalValue = (items: Item[]) => items.reduce((sum, it) => sum + it.quantity * it.unitPrice, 0);

export function useInventory() {
  const [items, setItems] = useState<Item[]>(SEED);
  const [query, setQuery] = useState("");
  const visible = useMemo(() => items.filter((it) => it.description.toLowerCase().includes(query.toLowerCase())), [items, query]);
  const restock = (sku: string, amount: number) =>
    setItems(items.map((it) => (it.sku === sku ? { ...it, quantity: it.quantity + amount } : it)));
  return { items, visible, query, setQuery, restock, value: totalValue(visible), allValue: totalValue(items) };
}
`,
		"src/components/ItemTable.tsx": `import clsx from "clsx";
import type { Item } from "../services/items";
import { formatCurrency } from "../utils/money";

interface Props {
  items: Item[];
  onRestock: (sku: string, amount: number) => void;
}

export function ItemTable({ items, onRestock }: Props) {
  return (
    <table className="items">
      <thead>
        <tr>
          <th>SKU</th>
          <th>Description</th>
          <th>Qty</th>
          <th>Price</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {items.map((it) => (
          <tr key={it.sku} className={clsx({ low: it.quantity <= it.reorderLevel })}>
            <td>{it.sku}</td>
            <td>{it.description}</td>
            <td>{it.quantity}</td>
            <td>{formatCurrency(it.salePrice)}</td>
            <td>
              <button onClick={() => onRestock(it.sku, 10)}>+10</button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
`,
		"src/App.tsx": `import { ItemTable } from "./components/ItemTable";
import { useInventory } from "./hooks/useInventory";
import { formatCurrency } from "./utils/money";

export default function App() {
  const inv = useInventory();
  return (
    <div className="inventory">
      <h1>Stock room</h1>
      <input value={inv.query} onChange={(e) => inv.setQuery(e.target.value)} placeholder="Search" />
      <ItemTable items={inv.visible} onRestock={inv.restock} />
      <p>
        Showing {inv.visible.length} of {inv.items.length} · value {formatCurrency(inv.value)} of {formatCurrency(inv.allValue)}
      </p>
    </div>
  );
}
`,
	},
	mistakes: []mistake{
		{id: "qty-abbrev", about: "reads it.qty; Item has quantity",
			edits: []ed{{"src/components/ItemTable.tsx", "<td>{it.quantity}</td>", "<td>{it.qty}</td>"}},
			wants: []want{{"src/components/ItemTable.tsx", "contains", "<td>{it.quantity}</td>"}}},
		{id: "untyped-arrow-helper", about: "declares totalValue's parameter without a type; both calls pass an Item[]",
			edits: []ed{{"src/hooks/useInventory.ts", "export const totalValue = (items: Item[]) =>", "export const totalValue = (items) =>"}},
			wants: []want{{"src/hooks/useInventory.ts", "contains", "export const totalValue = (items: Item[]) =>"}}},
		{id: "require-local", about: "requires a project module CommonJS-style",
			edits: []ed{{"src/components/ItemTable.tsx", `import { formatCurrency } from "../utils/money";`, `const { formatCurrency } = require("../utils/money");`}},
			wants: []want{{"src/components/ItemTable.tsx", "contains", `import { formatCurrency } from "../utils/money";`}, {"src/components/ItemTable.tsx", "lacks", "require("}}},
		{id: "unclosed-td", about: "leaves the button cell without its closing tag",
			edits: []ed{{"src/components/ItemTable.tsx", "              <button onClick={() => onRestock(it.sku, 10)}>+10</button>\n            </td>\n", "              <button onClick={() => onRestock(it.sku, 10)}>+10</button>\n"}},
			wants: []want{{"src/components/ItemTable.tsx", "matches", `\+10</button>\s*</td>\s*</tr>`}}},
		{id: "price-ambiguous", about: "reads it.price; Item has unitPrice and salePrice: which one is the author's call", intent: true,
			edits: []ed{{"src/components/ItemTable.tsx", "<td>{formatCurrency(it.salePrice)}</td>", "<td>{formatCurrency(it.price)}</td>"}}},
		{id: "search-number", about: "stores the search box's value through a number-typed setter",
			edits: []ed{{"src/hooks/useInventory.ts", "  const [query, setQuery] = useState(\"\");\n", "  const [query, setQuery] = useState(\"\");\n  const [minQty, setMinQty] = useState(0);\n"}, {"src/hooks/useInventory.ts", "it.description.toLowerCase().includes(query.toLowerCase())), [items, query]);", "it.description.toLowerCase().includes(query.toLowerCase()) && it.quantity >= minQty), [items, query, minQty]);"}, {"src/hooks/useInventory.ts", "return { items, visible, query, setQuery,", "return { items, visible, query, setQuery, minQty, setMinQty,"}, {"src/App.tsx", "      <ItemTable", "      <input type=\"number\" value={inv.minQty} onChange={(e) => inv.setMinQty(e.target.value)} />\n      <ItemTable"}},
			wants: []want{{"src/App.tsx", "contains", "inv.setMinQty(Number(e.target.value))"}}},
	},
}
