// SPDX-License-Identifier: MIT
// Parley - checks responses recorded from a live parleyd against openapi/openapi.yaml.
// Copyright (c) 2026 Parley developers
//
// Usage: node validate.mjs SPEC DIR [--coverage]
//
// DIR holds *.jsonl files written by the integration tests, one response per line:
//   {"method": "POST", "path": "/v1/users", "status": 201,
//    "content_type": "application/json", "body": "{\"id\":1,...}"}
// `body` is the raw response body as a string ("" or null when there is none); an already parsed
// JSON value is accepted too. `path` may carry a query string, which is ignored.
//
// Each record is matched to a path template (literal segments beat {param} segments, as OpenAPI
// prescribes), its operation, and the response for its status (exact code, then "4XX", then
// "default"). The content type must be one the response documents (parameters such as charset
// are ignored); JSON bodies are validated with Ajv against the documented schema, other bodies
// are only checked for their content type. A method or path that no operation describes is fine
// only as a 404 or 405 problem, checked against the spec's `x-parley-unrouted` responses.
//
// Records are grouped by (method, template, status); a group is one check and passes only if all
// its records do. The last line is `openapi: N passed, N failed`; the exit code is 1 on any
// failure and also when DIR holds no records at all, since that means nothing was recorded.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

const SPEC_ID = 'https://parley.invalid/openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const MAX_SHOWN = 5;       /* failing records printed per group; the rest are counted */
const MAX_BODY_SHOWN = 2000;

function die(msg)
{
    // stdout, like everything else, so the summary stays the last line when streams are merged.
    console.log(`validate.mjs: ${msg}`);
    console.log('openapi: 0 passed, 1 failed');
    process.exit(1);
}

/* ---------------------------------------------------------------- the spec */

const escapePtr = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');

function getPointer(doc, ptr)
{
    let node = doc;
    for (const raw of ptr.split('/').slice(1)) {
        const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
        if (node === null || typeof node !== 'object' || !(key in node))
            return undefined;
        node = node[key];
    }
    return node;
}

/* Follows local $refs of a Response Object; returns it with the pointer where it lives, which
 * the schema pointers are built from. */
function resolveResponse(doc, node, ptr)
{
    for (let hops = 0; node && typeof node.$ref === 'string'; hops++) {
        if (!node.$ref.startsWith('#/') || hops > 16)
            return { error: `cannot follow $ref ${node.$ref} at ${ptr}` };
        ptr = node.$ref.slice(1);
        node = getPointer(doc, ptr);
    }
    if (!node || typeof node !== 'object')
        return { error: `no response object at ${ptr}` };
    return { response: node, ptr };
}

/* A template segment becomes a regex; rank 2 = literal, 1 = mixed ("{id}.json"), 0 = "{id}". */
function compileTemplate(template)
{
    const segs = template.split('/').map((seg) => {
        const literal = !seg.includes('{');
        const pure = /^\{[^}]+\}$/.test(seg);
        const src = seg.split(/(\{[^}]+\})/).map((part) =>
            /^\{[^}]+\}$/.test(part) ? '([^/]+)' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
        return { re: new RegExp(`^${src.join('')}$`), rank: literal ? 2 : pure ? 0 : 1 };
    });
    return { template, segs };
}

function decodeSegment(seg)
{
    try {
        return decodeURIComponent(seg);
    } catch {
        return seg;
    }
}

/* The most specific template matching `path`, comparing segment ranks left to right. */
function matchPath(templates, path)
{
    const segs = path.split(/[?#]/)[0].split('/').map(decodeSegment);
    let best = null;
    for (const t of templates) {
        if (t.segs.length !== segs.length || !t.segs.every((s, i) => s.re.test(segs[i])))
            continue;
        if (!best) {
            best = t;
            continue;
        }
        for (let i = 0; i < segs.length; i++) {
            if (t.segs[i].rank !== best.segs[i].rank) {
                if (t.segs[i].rank > best.segs[i].rank)
                    best = t;
                break;
            }
        }
    }
    return best;
}

function pickResponse(responses, status)
{
    if (!responses || typeof responses !== 'object')
        return null;
    const range = `${Math.floor(status / 100)}XX`;
    for (const key of [String(status), range, range.toLowerCase(), 'default']) {
        if (key in responses)
            return key;
    }
    return null;
}

const baseType = (ct) => (typeof ct === 'string' ? ct.split(';')[0].trim().toLowerCase() : '');
const isJson = (mt) => mt === 'application/json' || mt.endsWith('+json');

/* The documented media type key matching `ct`, honouring "text/*" and "*\/*" ranges. */
function pickMediaType(content, ct)
{
    const keys = Object.keys(content);
    const want = baseType(ct);
    return keys.find((k) => baseType(k) === want) ??
           keys.find((k) => baseType(k) === `${want.split('/')[0]}/*`) ??
           keys.find((k) => baseType(k) === '*/*') ?? null;
}

/* ----------------------------------------------------------------- records */

function loadRecords(dir)
{
    let names;
    try {
        if (!statSync(dir).isDirectory())
            die(`${dir} is not a directory`);
        names = readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort();
    } catch (e) {
        die(`cannot read ${dir}: ${e.message}`);
    }
    const records = [];
    for (const name of names) {
        const lines = readFileSync(join(dir, name), 'utf8').split('\n');
        lines.forEach((line, i) => {
            if (line.trim() === '')
                return;
            const where = `${name}:${i + 1}`;
            try {
                records.push({ where, rec: JSON.parse(line) });
            } catch (e) {
                records.push({ where, rec: null, raw: line, parseError: e.message });
            }
        });
    }
    return { names, records };
}

function shape(rec)
{
    if (!rec || typeof rec !== 'object' || Array.isArray(rec))
        return 'the record is not a JSON object';
    if (typeof rec.method !== 'string' || !/^[A-Za-z]+$/.test(rec.method))
        return '"method" must be an HTTP method name';
    if (typeof rec.path !== 'string' || !rec.path.startsWith('/'))
        return '"path" must be a string starting with "/"';
    if (!Number.isInteger(rec.status) || rec.status < 100 || rec.status > 599)
        return '"status" must be an integer from 100 to 599';
    if (rec.content_type != null && typeof rec.content_type !== 'string')
        return '"content_type" must be a string or null';
    return null;
}

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
const hasBody = (body) => body !== undefined && body !== null && body !== '';

function parseBody(body)
{
    if (typeof body !== 'string')
        return { value: body };
    try {
        return { value: JSON.parse(body) };
    } catch (e) {
        return { error: `body is not valid JSON: ${e.message}` };
    }
}

/* ---------------------------------------------------------------- checking */

class Checker {
    constructor(doc)
    {
        this.doc = doc;
        this.templates = Object.keys(doc.paths ?? {}).map(compileTemplate);
        this.ajv = new Ajv2020({ strict: false, allErrors: true });
        addFormats(this.ajv);
        // The whole document is one schema resource, so a component's own "#/components/..."
        // refs resolve inside it without dereferencing anything by hand.
        this.ajv.addSchema({ ...doc, $id: SPEC_ID });
        this.validators = new Map();
    }

    validator(ptr)
    {
        // Ajv percent-decodes the fragment, so segments holding "{", "%" or " " are encoded.
        if (!this.validators.has(ptr)) {
            const fragment = ptr.split('/').map(encodeURIComponent).join('/');
            this.validators.set(ptr, this.ajv.compile({ $ref: `${SPEC_ID}#${fragment}` }));
        }
        return this.validators.get(ptr);
    }

    /* Returns { key: group name, errors: [...] } for one record. */
    check(rec)
    {
        const method = rec.method.toUpperCase();
        const tpl = matchPath(this.templates, rec.path);
        const op = tpl ? this.doc.paths[tpl.template][method.toLowerCase()] : undefined;
        if (!op || !METHODS.includes(method.toLowerCase()))
            return this.checkUnrouted(rec, method, tpl);
        const key = `${method} ${tpl.template} ${rec.status}`;
        const code = pickResponse(op.responses, rec.status);
        if (code === null)
            return { key, errors: [`status ${rec.status} is not documented for this operation`] };
        const opPtr = `/paths/${escapePtr(tpl.template)}/${method.toLowerCase()}`;
        const found = resolveResponse(this.doc, op.responses[code],
                                      `${opPtr}/responses/${escapePtr(code)}`);
        if (found.error)
            return { key, errors: [found.error] };
        return { key, errors: this.checkContent(rec, found.response, found.ptr) };
    }

    checkUnrouted(rec, method, tpl)
    {
        const key = `${method} ${tpl ? tpl.template : rec.path} ${rec.status} (no operation)`;
        if (rec.status !== 404 && rec.status !== 405) {
            return { key, errors: [`no operation describes ${method} ${rec.path}; ` +
                                   `expected a 404 or 405 problem, got ${rec.status}`] };
        }
        const unrouted = this.doc['x-parley-unrouted'] ?? {};
        if (!(String(rec.status) in unrouted))
            return { key, errors: this.checkFallbackProblem(rec) };
        const found = resolveResponse(this.doc, unrouted[String(rec.status)],
                                      `/x-parley-unrouted/${rec.status}`);
        if (found.error)
            return { key, errors: [found.error] };
        return { key, errors: this.checkContent(rec, found.response, found.ptr) };
    }

    /* Used only if the spec lacks x-parley-unrouted: any problem document with this status will
     * do, checked against the spec's Problem schema if it has one. */
    checkFallbackProblem(rec)
    {
        if (baseType(rec.content_type) !== 'application/problem+json')
            return [`content type ${rec.content_type ?? '(none)'} is not application/problem+json`];
        const parsed = parseBody(rec.body);
        if (parsed.error)
            return [parsed.error];
        if (getPointer(this.doc, '/components/schemas/Problem') !== undefined)
            return this.runSchema('/components/schemas/Problem', parsed.value);
        const p = parsed.value;
        if (!p || typeof p !== 'object' || typeof p.type !== 'string' || p.status !== rec.status)
            return [`not a problem document with "type" and "status": ${rec.status}`];
        return [];
    }

    checkContent(rec, response, ptr)
    {
        const content = response.content ?? {};
        if (Object.keys(content).length === 0) {
            return hasBody(rec.body) ? ['the response documents no body, but one was sent'] : [];
        }
        const mt = pickMediaType(content, rec.content_type);
        if (mt === null) {
            return [`content type ${rec.content_type ?? '(none)'} is not documented; ` +
                    `expected ${Object.keys(content).join(' or ')}`];
        }
        if (!isJson(baseType(mt)))
            return [];
        if (!hasBody(rec.body))
            return ['a JSON body is documented, but the body is empty'];
        const parsed = parseBody(rec.body);
        if (parsed.error)
            return [parsed.error];
        if (!content[mt].schema)
            return [];
        return this.runSchema(`${ptr}/content/${escapePtr(mt)}/schema`, parsed.value);
    }

    runSchema(ptr, value)
    {
        const validate = this.validator(ptr);
        if (validate(value))
            return [];
        return validate.errors.map((e) =>
            `${e.instancePath || '(root)'}: ${e.message} ${JSON.stringify(e.params)} ` +
            `[schema ${e.schemaPath}]`);
    }

    /* Every documented (method, template, status) pair, for --coverage. */
    documented()
    {
        const out = [];
        for (const [template, item] of Object.entries(this.doc.paths ?? {})) {
            for (const m of METHODS) {
                for (const code of Object.keys(item[m]?.responses ?? {}))
                    out.push(`${m.toUpperCase()} ${template} ${code}`);
            }
        }
        return out;
    }
}

function showRecord(rec)
{
    const copy = { ...rec };
    if (typeof copy.body === 'string' && copy.body.length > MAX_BODY_SHOWN)
        copy.body = `${copy.body.slice(0, MAX_BODY_SHOWN)}... (${rec.body.length} chars)`;
    return JSON.stringify(copy);
}

/* -------------------------------------------------------------------- main */

const args = process.argv.slice(2).filter((a) => a !== '--coverage');
const coverage = process.argv.includes('--coverage');
if (args.length !== 2) {
    console.error('usage: node validate.mjs SPEC DIR [--coverage]');
    process.exit(2);
}
const [specPath, dir] = args;

let doc;
try {
    doc = YAML.parse(readFileSync(specPath, 'utf8'));
} catch (e) {
    die(`cannot load ${specPath}: ${e.message}`);
}
if (!doc || typeof doc !== 'object' || !doc.paths)
    die(`${specPath} has no paths; is it an OpenAPI document?`);

let checker;
try {
    checker = new Checker(doc);
} catch (e) {
    die(`cannot compile the schemas in ${specPath}: ${e.message}`);
}

const { names, records } = loadRecords(dir);
if (records.length === 0) {
    die(`no records in ${dir} (${names.length} .jsonl files): ` +
        'the integration tests recorded no responses, so nothing was checked');
}

const groups = new Map();
for (const { where, rec, raw, parseError } of records) {
    let result;
    if (parseError) {
        result = { key: '(unreadable records)', errors: [`not JSON: ${parseError}`] };
    } else if (shape(rec)) {
        result = { key: '(malformed records)', errors: [shape(rec)] };
    } else {
        try {
            result = checker.check(rec);
        } catch (e) {
            // A schema Ajv cannot compile fails its group instead of the whole run.
            result = { key: `${rec.method.toUpperCase()} ${rec.path} ${rec.status} (validator)`,
                       errors: [`validator error: ${e.message}`] };
        }
    }
    if (!groups.has(result.key))
        groups.set(result.key, { total: 0, failures: [] });
    const g = groups.get(result.key);
    g.total++;
    if (result.errors.length > 0)
        g.failures.push({ where, shown: rec ? showRecord(rec) : raw, errors: result.errors });
}

let passed = 0;
let failed = 0;
for (const [key, g] of [...groups.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (g.failures.length === 0) {
        passed++;
        console.log(`ok   ${key} (${plural(g.total, 'record')})`);
        continue;
    }
    failed++;
    console.log(`FAIL ${key} (${g.failures.length} of ${plural(g.total, 'record')} failed)`);
    for (const f of g.failures.slice(0, MAX_SHOWN)) {
        console.log(`  ${f.where}: ${f.shown}`);
        for (const err of f.errors)
            console.log(`    - ${err}`);
    }
    if (g.failures.length > MAX_SHOWN)
        console.log(`  ... and ${g.failures.length - MAX_SHOWN} more`);
}

const documented = checker.documented();
const untested = documented.filter((d) => !groups.has(d));
console.log(`${plural(records.length, 'record')} in ${plural(names.length, 'file')}; ` +
            `${documented.length - untested.length} of ${documented.length} documented responses ` +
            `seen${coverage ? '' : ' (--coverage lists the others)'}`);
if (coverage) {
    for (const d of untested)
        console.log(`  not seen: ${d}`);
}
console.log(`openapi: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
