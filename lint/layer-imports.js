// @ts-check
// ESLint rule `postern/layer-imports`: the import arrows between the layers of the source tree.
// A file belongs to the layer whose directory (or file) is the longest prefix of its path; it
// may import its own layer, the paths its layer lists, node builtins and npm packages, nothing
// else of the repository. A store backend is imported only by the backend itself and by the
// one place that opens the store. Relative specifiers are resolved before they are judged, so
// `../../store/sqlite/x.js` counts by where it points, however it is spelt; type-only imports
// count as much as value imports (a type is a dependency on the layer that owns it).
// The table of layers is lint/layers.js; docs/architecture.md ("Layer rules") says it in prose.

import { builtinModules } from 'node:module';
import path from 'node:path';

/**
 * @typedef {object} LayerSpec
 * @property {string} dir Repository path of the layer: a directory or one file.
 * @property {string[]} may Paths (directories or files) it may import besides its own.
 * @property {string[]} [packages] The npm packages it may import; absent: any.
 * @property {string[]} [deniedBuiltins] Node builtin modules it may not import.
 *
 * @typedef {object} BackendSpec
 * @property {string} dir Repository path of the backend: a directory or one file.
 * @property {string[]} [packages] npm packages only this backend may import.
 *
 * @typedef {object} LayerOptions
 * @property {string} root Absolute path of the repository.
 * @property {LayerSpec[]} layers
 * @property {BackendSpec[]} backends
 * @property {string[]} openers Files that open a backend.
 */

/** `src/a/b.ts` and `src/a/b.js` are the same module. */
function moduleKey(repoPath) {
  return repoPath.replace(/\\/g, '/').replace(/\.(?:[cm]?[jt]s|tsx)$/, '');
}

function within(key, dir) {
  return key === dir || key.startsWith(dir + '/');
}

/** `@scope/name/sub` -> `@scope/name`; `name/sub` -> `name`. */
function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const BUILTINS = new Set(builtinModules);

/** `node:fs/promises` and `fs/promises` -> `fs`; null when not a builtin. */
function builtinName(specifier) {
  const bare = specifier.startsWith('node:') ? specifier.slice(5) : specifier;
  if (!specifier.startsWith('node:') && !BUILTINS.has(bare)) return null;
  return bare.split('/')[0];
}

/** @type {import('eslint').Rule.RuleModule} */
export const layerImports = {
  meta: {
    type: 'problem',
    docs: { description: 'Keep the import arrows between the layers of docs/architecture.md' },
    schema: [
      {
        type: 'object',
        additionalProperties: false,
        required: ['root', 'layers', 'backends', 'openers'],
        properties: {
          root: { type: 'string' },
          layers: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['dir', 'may'],
              properties: {
                dir: { type: 'string' },
                may: { type: 'array', items: { type: 'string' } },
                packages: { type: 'array', items: { type: 'string' } },
                deniedBuiltins: { type: 'array', items: { type: 'string' } },
              },
            },
          },
          backends: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['dir'],
              properties: {
                dir: { type: 'string' },
                packages: { type: 'array', items: { type: 'string' } },
              },
            },
          },
          openers: { type: 'array', items: { type: 'string' } },
        },
      },
    ],
    messages: {
      noLayer: '{{file}} is in no layer: place its directory in lint/layers.js and docs/architecture.md.',
      forbidden:
        '{{layer}} may not import {{target}}: it may import {{may}} (docs/architecture.md, "Layer rules").',
      backend: '{{target}} is a store backend: only {{openers}} opens one; use the interfaces of src/store.',
      backendPackage: "'{{name}}' belongs to the backend {{backend}}; only that backend imports it.",
      package: "{{layer}} may not import the npm package '{{name}}': it may import {{allowed}}.",
      builtin: '{{layer}} does no I/O: it may not import node:{{name}}.',
    },
  },

  create(context) {
    /** @type {LayerOptions} */
    const opts = context.options[0];
    const file = moduleKey(path.relative(opts.root, context.filename));
    const layers = opts.layers
      .map((l) => ({ ...l, dir: moduleKey(l.dir), may: l.may.map(moduleKey) }))
      .sort((a, b) => b.dir.length - a.dir.length);
    const layer = layers.find((l) => within(file, l.dir));
    const backends = opts.backends.map((b) => ({ ...b, dir: moduleKey(b.dir) }));
    const openers = opts.openers.map(moduleKey);

    /** @param {import('estree').Node} node @param {string} specifier */
    function check(node, specifier) {
      if (layer === undefined) return;
      if (specifier.startsWith('.') || specifier.startsWith('/')) {
        const absolute = path.resolve(path.dirname(context.filename), specifier);
        const target = moduleKey(path.relative(opts.root, absolute));
        const backend = backends.find((b) => within(target, b.dir));
        if (backend !== undefined) {
          if (!within(file, backend.dir) && !openers.includes(file)) {
            context.report({ node, messageId: 'backend', data: { target, openers: openers.join(', ') } });
          }
          return;
        }
        if (within(target, layer.dir) || layer.may.some((m) => within(target, m))) return;
        const may = layer.may.length === 0 ? 'nothing else of the repository' : layer.may.join(', ');
        context.report({ node, messageId: 'forbidden', data: { layer: layer.dir, target, may } });
        return;
      }
      const builtin = builtinName(specifier);
      if (builtin !== null) {
        if (layer.deniedBuiltins?.includes(builtin)) {
          context.report({ node, messageId: 'builtin', data: { layer: layer.dir, name: builtin } });
        }
        return;
      }
      const name = packageName(specifier);
      const owner = backends.find((b) => b.packages?.includes(name));
      if (owner !== undefined && !within(file, owner.dir)) {
        context.report({ node, messageId: 'backendPackage', data: { name, backend: owner.dir } });
        return;
      }
      if (layer.packages !== undefined && !layer.packages.includes(name)) {
        const allowed = layer.packages.length === 0 ? 'node builtins only' : layer.packages.join(', ');
        context.report({ node, messageId: 'package', data: { layer: layer.dir, name, allowed } });
      }
    }

    /** @param {import('estree').Node} node @param {unknown} source */
    function checkSource(node, source) {
      if (typeof source === 'object' && source !== null && 'value' in source) {
        if (typeof source.value === 'string') check(node, source.value);
      }
    }

    return {
      Program(node) {
        if (layer === undefined) context.report({ node, messageId: 'noLayer', data: { file } });
      },
      ImportDeclaration: (node) => checkSource(node, node.source),
      ExportNamedDeclaration: (node) => checkSource(node, node.source),
      ExportAllDeclaration: (node) => checkSource(node, node.source),
      ImportExpression: (node) => checkSource(node, node.source),
      // TypeScript only: `import x = require('...')` and `import('...').T` in a type.
      /** @param {any} node */
      TSImportEqualsDeclaration(node) {
        if (node.moduleReference?.type === 'TSExternalModuleReference') {
          checkSource(node, node.moduleReference.expression);
        }
      },
      /** @param {any} node */
      TSImportType(node) {
        checkSource(node, node.argument?.literal ?? node.source);
      },
    };
  },
};

export default { rules: { 'layer-imports': layerImports } };
