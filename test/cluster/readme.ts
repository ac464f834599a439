import { readFileSync } from "node:fs";
import { expect } from "vitest";

/** The README's code block after the marker `<!-- NAME: ... -->`. */
export function readmeBlock(name: string): string {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const at = readme.indexOf(`<!-- ${name}:`);
    expect(at, `README marker ${name}`).toBeGreaterThan(-1);
    const open = readme.indexOf("```", at);
    const start = readme.indexOf("\n", open) + 1;
    return readme.slice(start, readme.indexOf("```", start));
}
