// visible_if / required_if in the browser: a small evaluator for the common subset of the
// formula language (literals, field names, arithmetic, & concatenation, comparisons,
// and/or/not, if, isempty, coalesce, len, contains, lower, upper, trim, abs) with the
// server's precedence and null rules. Anything outside that subset yields "unknown"
// (undefined): the field stays shown / optional and the server, which evaluates the real
// language on save, has the last word. Never uses eval.
(function () {
  "use strict";
  const KEYWORDS = { true: true, false: false, null: null };
  const OPS = ["<=", ">=", "!=", "<>", "==", "+", "-", "*", "/", "&", "=", "<", ">", "(", ")", ",", "."];
  class Unknown extends Error {}

  function tokenize(src) {
    const out = [];
    let i = 0;
    while (i < src.length) {
      const ch = src[i];
      if (/\s/.test(ch)) { i += 1; continue; }
      let m;
      if ((m = /^\d+(\.\d+)?/.exec(src.slice(i)))) { out.push({ k: "num", v: Number(m[0]) }); i += m[0].length; continue; }
      if (ch === "'" || ch === '"') {
        let j = i + 1; let text = "";
        while (j < src.length && src[j] !== ch) { if (src[j] === "\\") j += 1; text += src[j]; j += 1; }
        if (j >= src.length) throw new Unknown("unterminated string");
        out.push({ k: "str", v: text }); i = j + 1; continue;
      }
      if ((m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i)))) {
        const word = m[0].toLowerCase();
        if (word in KEYWORDS) out.push({ k: "lit", v: KEYWORDS[word] });
        else if (["and", "or", "not"].includes(word)) out.push({ k: "op", v: word });
        else out.push({ k: "name", v: m[0] });
        i += m[0].length; continue;
      }
      const op = OPS.find((o) => src.startsWith(o, i));
      if (!op) throw new Unknown(`unexpected ${ch}`);
      out.push({ k: "op", v: op }); i += op.length;
    }
    out.push({ k: "end" });
    return out;
  }

  const CMP = { "=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=" };
  const FUNCS = {
    if: (c, a, b) => (c === true ? a : b),
    isempty: (x) => x === null || x === "" || (Array.isArray(x) && x.length === 0),
    coalesce: (...xs) => { const hit = xs.find((x) => x !== null); return hit === undefined ? null : hit; },
    len: (s) => (s === null ? null : [...String(s)].length),
    contains: (s, p) => (s === null || p === null ? null : (Array.isArray(s) ? s.includes(p) : String(s).includes(String(p)))),
    lower: (s) => (s === null ? null : String(s).toLowerCase()),
    upper: (s) => (s === null ? null : String(s).toUpperCase()),
    trim: (s) => (s === null ? null : String(s).trim()),
    abs: (x) => (x === null ? null : Math.abs(x)),
  };

  function parse(tokens) {
    let pos = 0;
    const peek = () => tokens[pos];
    const isOp = (v) => peek().k === "op" && peek().v === v;
    const take = () => tokens[pos++];
    const expect = (v) => { if (!isOp(v)) throw new Unknown(`expected ${v}`); take(); };
    function or() { let l = and(); while (isOp("or")) { take(); const a = l; const b = and(); l = (env) => logic(a(env), b(env), "or"); } return l; }
    function and() { let l = not(); while (isOp("and")) { take(); const a = l; const b = not(); l = (env) => logic(a(env), b(env), "and"); } return l; }
    function not() { if (isOp("not")) { take(); const a = not(); return (env) => { const v = a(env); return v === null ? null : !truthy(v); }; } return compare(); }
    function compare() {
      const l = concat();
      if (peek().k === "op" && CMP[peek().v]) {
        const op = CMP[take().v]; const r = concat();
        return (env) => cmp(op, l(env), r(env));
      }
      return l;
    }
    function concat() { let l = additive(); while (isOp("&")) { take(); const a = l; const b = additive(); l = (env) => `${text(a(env))}${text(b(env))}`; } return l; }
    function additive() {
      let l = term();
      while (isOp("+") || isOp("-")) { const op = take().v; const a = l; const b = term(); l = (env) => arith(op, a(env), b(env)); }
      return l;
    }
    function term() {
      let l = unary();
      while (isOp("*") || isOp("/")) { const op = take().v; const a = l; const b = unary(); l = (env) => arith(op, a(env), b(env)); }
      return l;
    }
    function unary() {
      if (isOp("-")) { take(); const a = unary(); return (env) => arith("-", 0, a(env)); }
      if (isOp("+")) { take(); return unary(); }
      return primary();
    }
    function primary() {
      const t = take();
      if (t.k === "num" || t.k === "str" || t.k === "lit") return () => t.v;
      if (t.k === "op" && t.v === "(") { const e = or(); expect(")"); return e; }
      if (t.k === "name") {
        if (isOp("(")) {
          take();
          const fn = FUNCS[t.v.toLowerCase()];
          const args = [];
          if (!isOp(")")) { args.push(or()); while (isOp(",")) { take(); args.push(or()); } }
          expect(")");
          if (!fn) throw new Unknown(`function ${t.v}`);
          return (env) => fn(...args.map((a) => a(env)));
        }
        if (isOp(".")) throw new Unknown("subtable column");
        return (env) => {
          if (!(t.v in env)) throw new Unknown(`field ${t.v}`);
          return env[t.v];
        };
      }
      throw new Unknown("syntax");
    }
    const tree = or();
    if (peek().k !== "end") throw new Unknown("trailing input");
    return tree;
  }

  function truthy(v) { return v === true; }
  function logic(a, b, op) {
    if (op === "and") { if (a === false || b === false) return false; return a === null || b === null ? null : true; }
    if (a === true || b === true) return true;
    return a === null || b === null ? null : false;
  }
  function text(v) { return v === null ? "" : String(v); }
  function arith(op, a, b) {
    if (a === null || b === null) return null;
    if (typeof a !== "number" || typeof b !== "number") throw new Unknown("arithmetic on non-numbers");
    if (op === "/") return b === 0 ? null : a / b;
    return { "+": a + b, "-": a - b, "*": a * b }[op];
  }
  function cmp(op, a, b) {
    if (op === "=") return a === b;
    if (op === "!=") return a !== b;
    if (a === null || b === null) return null;
    return { "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b }[op];
  }

  const NUMERIC = new Set(["number", "money", "percent"]);
  const cache = new Map();

  /** Field values as the formula language sees them: decimals as numbers, "" as null. */
  function environment(values, definition) {
    const env = {};
    for (const f of (definition.fields || [])) {
      let v = values[f.key];
      if (v === undefined || v === "" || (Array.isArray(v) && v.length === 0)) v = null;
      if (v !== null && NUMERIC.has(f.type)) {
        const n = Number(String(v).replace(/[,\s]/g, ""));
        v = Number.isNaN(n) ? null : n;
      }
      if (v !== null && ["subtable", "attachment", "relation", "date", "datetime", "card_number"].includes(f.type)) continue; // not modelled here
      env[f.key] = v;
    }
    return env;
  }

  /** true / false / null for a condition; undefined when this evaluator cannot tell. */
  function test(source, values, definition) {
    if (!source) return undefined;
    try {
      if (!cache.has(source)) cache.set(source, parse(tokenize(source)));
      const result = cache.get(source)(environment(values, definition));
      return result === true ? true : (result === false || result === null ? false : undefined);
    } catch (error) {
      if (error instanceof Unknown) return undefined;
      throw error;
    }
  }

  window.LoomConditions = { test };
})();
