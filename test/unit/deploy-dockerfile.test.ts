/**
 * The Dockerfile's structure, checked with a real Dockerfile parser
 * (dockerfile-ast; test/privileged/container-image.test.ts builds and runs it): the base images and
 * stages, the scripted build step shared with the README and CI, production
 * dependencies only, no compiler in the final image, the BPF object shipped,
 * the exposed port and the entrypoint matching the exporter's defaults.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Copy, DockerfileParser, type Instruction } from 'dockerfile-ast';
import { DEFAULT_SERVER_CONFIG } from '../../src/config/exporter-config.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const COMPILERS = /\b(clang|gcc|g\+\+|cc|llvm[\w-]*|build-essential|make|libbpf-dev|linux-libc-dev)\b/;

interface Stage {
  image: string;
  name: string | null;
  instructions: Instruction[];
}

/** The global ARGs (before the first FROM) with their defaults, substituted as a build without --build-arg would. */
function resolveArgs(image: string, dockerfile: ReturnType<typeof DockerfileParser.parse>): string {
  const defaults = new Map(
    dockerfile
      .getInitialARGs()
      .map((a) => a.getProperty())
      .filter((p) => p !== null)
      .map((p) => [p.getName(), p.getValue() ?? ''] as const),
  );
  return image.replace(/\$\{?(\w+)\}?/g, (_, name: string) => defaults.get(name) ?? '');
}

async function readStages(): Promise<Stage[]> {
  const dockerfile = DockerfileParser.parse(await readFile(join(ROOT, 'Dockerfile'), 'utf8'));
  const stages: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const from = dockerfile.getFROMs().find((f) => f.getRange().start.line === instruction.getRange().start.line);
      assert.ok(from);
      stages.push({ image: resolveArgs(from.getImage() ?? '', dockerfile), name: from.getBuildStage(), instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

/** The argument text of every instruction with this keyword, continuation lines joined. */
function argumentsOf(stage: Stage, keyword: string): string[] {
  return stage.instructions
    .filter((i) => i.getKeyword() === keyword)
    .map((i) =>
      i
        .getArguments()
        .map((a) => a.getValue())
        .join(' '),
    );
}

async function packageJson(): Promise<{ engines: { node: string }; bin: Record<string, string>; scripts: Record<string, string> }> {
  return JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as never;
}

test('one build argument names the Node base image: the builder runs on it, the runtime on its -slim variant', async () => {
  const text = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
  const dockerfile = DockerfileParser.parse(text);
  assert.deepEqual(
    dockerfile.getInitialARGs().map((a) => a.getProperty()?.getName()),
    ['NODE_IMAGE'],
    'NODE_IMAGE is the only build argument',
  );
  assert.deepEqual(
    dockerfile.getFROMs().map((f) => f.getImage()),
    ['${NODE_IMAGE}', '${NODE_IMAGE}-slim'],
  );
  assert.doesNotMatch(text, /NODE_EXTRA_CA_CERTS|ca-certificates\.crt/, "the test base's CA bundle is not in the shipped Dockerfile");
});

test('two stages: a node:20-bookworm builder and a node:20-bookworm-slim runtime (the defaults)', async () => {
  const stages = await readStages();
  assert.equal(stages.length, 2);
  const [build, runtime] = stages as [Stage, Stage];
  assert.equal(build.image, 'node:20-bookworm');
  assert.ok(build.name, 'the builder is a named stage');
  assert.equal(runtime.image, 'node:20-bookworm-slim');
  const { engines } = await packageJson();
  assert.match(engines.node, /20/, 'the image runs the Node major package.json supports');
});

test('the builder runs the same scripted install + build as the README and CI, then drops dev dependencies', async () => {
  const [build] = (await readStages()) as [Stage];
  const runs = argumentsOf(build, 'RUN');
  const { scripts } = await packageJson();
  // `npm start` runs this very step first (prestart); CI's `npm test` runs its test profile.
  assert.equal(scripts.prestart, 'bash scripts/install.sh runtime');
  assert.ok(runs.includes('bash scripts/install.sh runtime'), `RUNs: ${runs.join(' | ')}`);
  const installAt = runs.indexOf('bash scripts/install.sh runtime');
  assert.ok(
    runs.slice(installAt + 1).some((r) => /npm (prune|ci) .*--omit=dev/.test(r)),
    'dev dependencies are pruned after the build',
  );
});

test('the runtime image has libbpf1, no compiler, and the compiled BPF object', async () => {
  const stages = await readStages();
  const [build, runtime] = stages as [Stage, Stage];
  const runs = argumentsOf(runtime, 'RUN').join(' ');
  assert.match(runs, /apt-get install .*\blibbpf1\b/);
  assert.doesNotMatch(runs, COMPILERS, 'no compiler or headers in the final image');
  assert.doesNotMatch(runs, /npm (ci|install)/, 'the final image installs no npm packages itself');

  const workdir = argumentsOf(runtime, 'WORKDIR').at(-1) ?? '/';
  const copies = runtime.instructions
    .filter((i): i is Copy => i instanceof Copy)
    .map((c) => {
      const [src, dest] = c.getArguments().map((a) => a.getValue());
      return { from: c.getFromFlag()?.getValue(), src, dest: join(workdir, dest ?? '') };
    });
  // The repository's layout is kept, so dist/ finds the object where the loader looks by default.
  const expected: Array<[string, string]> = [
    ['/src/node_modules', 'node_modules'],
    ['/src/dist', 'dist'],
    ['/src/package.json', 'package.json'],
    ['/src/bpf/netprobe.bpf.o', 'bpf/netprobe.bpf.o'],
    ['/src/bpf/socket-meter.bpf.o', 'bpf/socket-meter.bpf.o'],
  ];
  for (const [src, dest] of expected) {
    assert.ok(
      copies.some((c) => c.from === build.name && c.src === src && c.dest === join(workdir, dest)),
      `COPY --from=${build.name} ${src} ${dest}`,
    );
  }
  const { DEFAULT_OBJECT_PATH } = await import('../../src/bpf/tc-counter/open-counters.js');
  assert.ok(DEFAULT_OBJECT_PATH.endsWith('/bpf/netprobe.bpf.o'), DEFAULT_OBJECT_PATH);
  assert.ok(existsSync(join(ROOT, 'bpf/netprobe.bpf.o')), 'the BPF object is committed, so the build needs no clang');
});

test('production dependencies are enough: every package src/ imports at run time is a dependency', async () => {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { name: string; dependencies: Record<string, string> };
  const sources = (await readdir(join(ROOT, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts'));
  const imported = new Set<string>();
  for (const file of sources) {
    const text = await readFile(join(ROOT, 'src', file), 'utf8');
    // Static value imports (not `import type`) and dynamic imports of bare specifiers.
    const specifiers = [
      ...text.matchAll(/^import\s+(?!type\s)[^;]*?\sfrom\s+'([^'.][^']*)'/gms),
      ...text.matchAll(/\bimport\('([^'.][^']*)'\)/g),
    ].map((m) => m[1] as string);
    for (const spec of specifiers.filter((x) => !x.startsWith('node:')))
      imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));
  }
  imported.delete(pkg.name);
  assert.ok(imported.size >= 3, [...imported].join(' '));
  assert.deepEqual(
    [...imported].filter((name) => !(name in pkg.dependencies)),
    [],
    'imported at run time but pruned from the image (devDependencies)',
  );
});

test('the runtime image installs iproute2 if and only if netprobe runs ip or tc', async () => {
  const sources = (await readdir(join(ROOT, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts'));
  let runsIpOrTc = false;
  for (const file of sources) {
    const text = await readFile(join(ROOT, 'src', file), 'utf8');
    if (/\b(?:execFile|spawn|exec)(?:Sync)?\(\s*['"](?:ip|tc)['"]/.test(text)) runsIpOrTc = true;
  }
  const [, runtime] = (await readStages()) as [Stage, Stage];
  assert.equal(/\biproute2\b/.test(argumentsOf(runtime, 'RUN').join(' ')), runsIpOrTc);
});

test('EXPOSE and ENTRYPOINT match the default port and the netprobe bin', async () => {
  const [, runtime] = (await readStages()) as [Stage, Stage];
  assert.deepEqual(argumentsOf(runtime, 'EXPOSE'), [String(DEFAULT_SERVER_CONFIG.port)]);
  const workdir = argumentsOf(runtime, 'WORKDIR').at(-1);
  assert.ok(workdir);
  const entrypoints = runtime.instructions.filter((i) => i.getKeyword() === 'ENTRYPOINT');
  assert.equal(entrypoints.length, 1);
  const text = entrypoints[0]?.getArgumentsContent() ?? '';
  const argv = JSON.parse(text) as string[]; // exec form: the process gets SIGTERM itself
  const { bin } = await packageJson();
  assert.deepEqual(argv, ['node', join(workdir, bin.netprobe ?? '')]);
  assert.equal(argumentsOf(runtime, 'CMD').length, 0, 'flags come from the orchestrator (DaemonSet args)');
});

test('.dockerignore keeps host build output out and everything the build needs in', async () => {
  const patterns = (await readFile(join(ROOT, '.dockerignore'), 'utf8'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const excluded of ['node_modules', 'dist', '.git']) assert.ok(patterns.includes(excluded), `${excluded} is ignored`);
  const needed = [
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'tsconfig.build.json',
    'scripts',
    'src',
    'bpf',
    'bpf/netprobe.bpf.o',
  ];
  for (const path of needed) {
    assert.ok(!patterns.some((p) => p === path || path.startsWith(`${p}/`) || p === '*' || p === '**'), `${path} reaches the build`);
  }
});
