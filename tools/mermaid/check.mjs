// Parse each chart of a JSON object {name: chart} with Mermaid itself; exit 1 if any is refused.
import { JSDOM } from "jsdom";
import { readFileSync } from "node:fs";
const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });
const charts = JSON.parse(readFileSync(process.argv[2], "utf8"));
let bad = 0;
for (const [name, text] of Object.entries(charts)) {
  try { await mermaid.parse(text); } catch (error) { bad++; console.log(`${name}: ${error.message}`); }
}
console.log(`${Object.keys(charts).length - bad} parsed, ${bad} refused`);
process.exit(bad ? 1 : 0);
