import { describe, expect, it } from "vitest";
import { providerNote } from "./serverinfo";

describe("providerNote", () => {
  it("tells the scaffold from a model", () => {
    expect(providerNote("scaffold (no model)")).toMatch(/no AI model/);
    expect(providerNote("openai (openai/gpt-5)")).toMatch(/AI model writes/);
  });
});
