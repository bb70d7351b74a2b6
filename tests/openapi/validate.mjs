// SPDX-License-Identifier: MIT
// Parley - checks responses recorded from a live parleyd against openapi/openapi.yaml.
// Copyright (c) 2026 Parley developers
//
// Usage: node validate.mjs SPEC DIR [--coverage]
//
// DIR holds *.jsonl files written by the integration tests, one JSON record per line, of two
// kinds. A line may be as long as a record needs (a page of 200 64 KiB messages is fine): files are
// read in chunks and each line is parsed on its own.
//
// 1. A response:
//      {"method": "POST", "path": "/v1/users", "status": 201,
//       "content_type": "application/json", "body": "{\"id\":1,...}"}
//    `body` is the raw response body as a string ("" or null when there is none); an already parsed
//    JSON value is accepted too. `path` may carry a query string, which is ignored.
//
//    Each response is matched to a path template (literal segments beat {param} segments, as
//    OpenAPI prescribes), its operation, and the response for its status (exact code, then "4XX",
//    then "default"). The content type must be one the response documents (parameters such as
//    charset are ignored); JSON bodies are validated with Ajv against the documented schema. Other
//    bodies, `text/event-stream` included, are checked for their content type only and never
//    parsed: a stream's body is whatever the test read before closing it. A method or path that no
//    operation describes is fine only as a 404 or 405 problem, checked against the spec's
//    `x-parley-unrouted` responses.
//
// 2. One event read from an event stream (GET /v1/events):
//      {"sse": true, "event": "message.created", "data": "{\"conversation_id\":12,...}",
//       "id": "1042"}
//    `event` is the event's `event:` field, `data` its `data:` field as a string (several data
//    lines joined with "\n", as EventSource does; a parsed JSON value is accepted too). `id` is
//    optional: leave it out to check the data only; give it (the `id:` field as a string, or null
//    when the event had none) to check too that exactly the persisted events carry a numeric id.
//    Optional `path` (the stream's request path) is shown when the record fails.
//
//    The schema for stream events is the one the `text/event-stream` media type names in its
//    `x-parley-item-schema` extension (else components/schemas/StreamEvent): a oneOf over
//    {id?, event, data} objects with a discriminator on `event`. The event name picks the variant
//    through the discriminator's mapping (an unmapped name fails); the record is checked against
//    the variant as {event, data, id}, with a numeric id string turned into a number, or, without
//    `id`, its data against the variant's `data` schema (the Event* schema of that name).
//
// Records are grouped by (method, template, status), or by event name for stream events; a group
// is one check and passes only if all its records do. The last line is
// `openapi: N passed, N failed`; the exit code is 1 on any failure and also when DIR holds no
// records at all, since that means nothing was recorded.
import { closeSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
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

function recordFiles(dir)
{
    try {
        if (!statSync(dir).isDirectory())
            die(`${dir} is not a directory`);
        return readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort();
    } catch (e) {
        die(`cannot read ${dir}: ${e.message}`);
    }
    return [];
}

/* Yields [line number, text] for each non-blank line of `file`. The file is read in chunks, so
 * neither its size nor a line's length is limited by how big one string may be, beyond the line
 * itself; a line that cannot become a string is yielded as an Error. */
function* readLines(file)
{
    const fd = openSync(file, 'r');
    const chunk = Buffer.alloc(1 << 20);
    let parts = [];
    let lineNo = 1;
    const finish = function* (bufs) {
        let text;
        try {
            text = Buffer.concat(bufs).toString('utf8');
        } catch (e) {
            text = e;
        }
        if (text instanceof Error || text.trim() !== '')
            yield [lineNo, text];
        lineNo++;
    };
    try {
        for (;;) {
            const n = readSync(fd, chunk, 0, chunk.length, null);
            if (n === 0)
                break;
            const data = chunk.subarray(0, n);
            let start = 0;
            for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, start)) {
                parts.push(Buffer.from(data.subarray(start, nl)));
                yield* finish(parts);
                parts = [];
                start = nl + 1;
            }
            if (start < n)
                parts.push(Buffer.from(data.subarray(start)));
        }
        if (parts.length > 0)
            yield* finish(parts);
    } finally {
        closeSync(fd);
    }
}

/* Yields { where, rec } for every record in DIR, or { where, raw, parseError }. */
function* records(dir, names)
{
    for (const name of names) {
        for (const [lineNo, text] of readLines(join(dir, name))) {
            const where = `${name}:${lineNo}`;
            if (text instanceof Error) {
                yield { where, rec: null, raw: '(line not shown)', parseError: text.message };
                continue;
            }
            try {
                yield { where, rec: JSON.parse(text) };
            } catch (e) {
                yield { where, rec: null, raw: clip(text), parseError: e.message };
            }
        }
    }
}

const isEventRecord = (rec) => rec && typeof rec === 'object' && rec.sse === true;

function shape(rec)
{
    if (!rec || typeof rec !== 'object' || Array.isArray(rec))
        return 'the record is not a JSON object';
    if (isEventRecord(rec)) {
        if (typeof rec.event !== 'string' || rec.event === '')
            return '"event" must be a non-empty string';
        if (rec.data === undefined || rec.data === null)
            return '"data" must be the event\'s data';
        if ('id' in rec && rec.id !== null && typeof rec.id !== 'string')
            return '"id" must be a string or null';
        if (rec.path != null && typeof rec.path !== 'string')
            return '"path" must be a string';
        return null;
    }
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

function parseBody(body, what = 'body')
{
    if (typeof body !== 'string')
        return { value: body };
    try {
        return { value: JSON.parse(body) };
    } catch (e) {
        return { error: `${what} is not valid JSON: ${e.message}` };
    }
}

const clip = (text) => (text.length > MAX_BODY_SHOWN
    ? `${text.slice(0, MAX_BODY_SHOWN)}... (${text.length} chars)` : text);

/* A copy of the document without discriminator mappings, for Ajv (see Checker). */
function withoutMappings(node)
{
    if (Array.isArray(node))
        return node.map(withoutMappings);
    if (node === null || typeof node !== 'object')
        return node;
    const out = {};
    for (const [k, v] of Object.entries(node)) {
        if (k === 'discriminator' && v && typeof v === 'object') {
            const { mapping: _unused, ...rest } = v;
            out[k] = rest;
        } else {
            out[k] = withoutMappings(v);
        }
    }
    return out;
}

/* Where the schema of one stream event lives: the `x-parley-item-schema` of a text/event-stream
 * media type, else components/schemas/StreamEvent. Returns { tag, mapping: Map(event name ->
 * pointer of its variant) } or { error }. The mapping is the discriminator's, completed from the
 * `const` of each oneOf branch's tag property. */
function findEventSchema(doc)
{
    let ptr = null;
    for (const [template, item] of Object.entries(doc.paths ?? {})) {
        for (const m of METHODS) {
            for (const [code, resp] of Object.entries(item?.[m]?.responses ?? {})) {
                const found = resolveResponse(doc, resp, `/paths/${escapePtr(template)}/${m}/` +
                                                         `responses/${code}`);
                const content = found.response?.content ?? {};
                for (const [mt, media] of Object.entries(content)) {
                    const ref = media?.['x-parley-item-schema']?.$ref;
                    if (baseType(mt) === 'text/event-stream' && typeof ref === 'string')
                        ptr ??= ref.startsWith('#/') ? ref.slice(1) : null;
                }
            }
        }
    }
    ptr ??= '/components/schemas/StreamEvent';
    const schema = getPointer(doc, ptr);
    if (!schema || !Array.isArray(schema.oneOf)) {
        return { error: `the spec has no stream event schema (a oneOf) at ${ptr}, so stream ` +
                        'events cannot be checked' };
    }
    const tag = schema.discriminator?.propertyName ?? 'event';
    const mapping = new Map();
    for (const [name, ref] of Object.entries(schema.discriminator?.mapping ?? {})) {
        if (typeof ref === 'string' && ref.startsWith('#/'))
            mapping.set(name, ref.slice(1));
    }
    for (const branch of schema.oneOf) {
        const bptr = typeof branch?.$ref === 'string' && branch.$ref.startsWith('#/')
            ? branch.$ref.slice(1) : null;
        const name = (bptr ? getPointer(doc, bptr) : branch)?.properties?.[tag]?.const;
        if (bptr && typeof name === 'string' && !mapping.has(name))
            mapping.set(name, bptr);
    }
    return { tag, mapping };
}

/* ---------------------------------------------------------------- checking */

class Checker {
    constructor(doc)
    {
        this.doc = doc;
        this.templates = Object.keys(doc.paths ?? {}).map(compileTemplate);
        // With `discriminator`, Ajv checks only the oneOf branch the tag names, so a bad event
        // in a sync batch reports that event's errors instead of every branch's. Ajv rejects
        // OpenAPI's `mapping` (it finds the branch from each one's const), so its copy of the
        // document goes without.
        this.ajv = new Ajv2020({ strict: false, allErrors: true, discriminator: true });
        addFormats(this.ajv);
        // The whole document is one schema resource, so a component's own "#/components/..."
        // refs resolve inside it without dereferencing anything by hand.
        this.ajv.addSchema({ ...withoutMappings(doc), $id: SPEC_ID });
        this.validators = new Map();
        this.events = findEventSchema(doc);
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
        if (isEventRecord(rec))
            return this.checkEvent(rec);
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

    /* A stream event: its name picks the variant of the stream's item schema. */
    checkEvent(rec)
    {
        const key = `SSE event ${rec.event}`;
        if (this.events.error)
            return { key, errors: [this.events.error] };
        const target = this.events.mapping.get(rec.event);
        if (target === undefined) {
            return { key, errors: [`event "${rec.event}" is not documented; the spec has ` +
                                   [...this.events.mapping.keys()].join(', ')] };
        }
        const parsed = parseBody(rec.data, 'data');
        if (parsed.error)
            return { key, errors: [parsed.error] };
        if (!('id' in rec)) {
            const dataPtr = `${target}/properties/data`;
            if (getPointer(this.doc, dataPtr) === undefined)
                return { key, errors: [`${target} has no "data" property to check the data with`] };
            return { key, errors: this.runSchema(dataPtr, parsed.value) };
        }
        const value = { [this.events.tag]: rec.event, data: parsed.value };
        if (rec.id !== null && rec.id !== '') {
            const n = Number(rec.id);
            value.id = /^[0-9]+$/.test(rec.id) && Number.isSafeInteger(n) ? n : rec.id;
        }
        return { key, errors: this.runSchema(target, value) };
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
        // A stream's body is whatever the test read before it let go; its events are checked
        // from their own records. Other non-JSON bodies have nothing to check beyond the type.
        if (baseType(mt) === 'text/event-stream' || !isJson(baseType(mt)))
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

    /* Every documented (method, template, status) pair and stream event, for --coverage. */
    documented()
    {
        const out = this.events.error ? [] : [...this.events.mapping.keys()].map(
            (name) => `SSE event ${name}`);
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
    for (const k of ['body', 'data']) {
        if (typeof copy[k] === 'string')
            copy[k] = clip(copy[k]);
    }
    const shown = JSON.stringify(copy);
    return shown.length > 4 * MAX_BODY_SHOWN ? clip(shown) : shown;
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

// Records are checked as they are read, so a directory of long ones never sits in memory whole;
// a failing group keeps only the records it will print.
const names = recordFiles(dir);
const groups = new Map();
let total = 0;
for (const { where, rec, raw, parseError } of records(dir, names)) {
    total++;
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
            const what = isEventRecord(rec) ? `SSE event ${rec.event}`
                : `${rec.method.toUpperCase()} ${rec.path} ${rec.status}`;
            result = { key: `${what} (validator)`, errors: [`validator error: ${e.message}`] };
        }
    }
    if (!groups.has(result.key))
        groups.set(result.key, { total: 0, failed: 0, failures: [] });
    const g = groups.get(result.key);
    g.total++;
    if (result.errors.length > 0) {
        g.failed++;
        if (g.failures.length < MAX_SHOWN)
            g.failures.push({ where, shown: rec ? showRecord(rec) : raw, errors: result.errors });
    }
}
if (total === 0) {
    die(`no records in ${dir} (${names.length} .jsonl files): ` +
        'the integration tests recorded no responses, so nothing was checked');
}

let passed = 0;
let failed = 0;
for (const [key, g] of [...groups.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (g.failed === 0) {
        passed++;
        console.log(`ok   ${key} (${plural(g.total, 'record')})`);
        continue;
    }
    failed++;
    console.log(`FAIL ${key} (${g.failed} of ${plural(g.total, 'record')} failed)`);
    for (const f of g.failures) {
        console.log(`  ${f.where}: ${f.shown}`);
        for (const err of f.errors)
            console.log(`    - ${err}`);
    }
    if (g.failed > g.failures.length)
        console.log(`  ... and ${g.failed - g.failures.length} more`);
}

const documented = checker.documented();
const untested = documented.filter((d) => !groups.has(d));
console.log(`${plural(total, 'record')} in ${plural(names.length, 'file')}; ` +
            `${documented.length - untested.length} of ${documented.length} documented responses ` +
            `and events seen${coverage ? '' : ' (--coverage lists the others)'}`);
if (coverage) {
    for (const d of untested)
        console.log(`  not seen: ${d}`);
}
console.log(`openapi: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
