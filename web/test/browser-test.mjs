// The browser test: serves web/dist on loopback, opens it in Debian's headless Chromium (WebGL2 through
// SwiftShader) and checks what a student would see. Run by web/test.sh, which builds the page and a native
// recording first.
//
//   node browser-test.mjs DIST_DIR RECORDING.sqlite RECORDING_TICKS OUT_DIR
//
// Prints one `measured:` line per figure (time to first frame, tick rates) and exits non-zero on any failure.

import { createServer } from 'node:http';
import { readFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import puppeteer from 'puppeteer-core';

const [distDir, recordingPath, recordingTicksText, outDir] = process.argv.slice(2);
if (!distDir || !recordingPath || !recordingTicksText || !outDir) {
  console.error('usage: node browser-test.mjs DIST_DIR RECORDING.sqlite RECORDING_TICKS OUT_DIR');
  process.exit(2);
}
const recordingTicks = Number(recordingTicksText);
const VIEWPORT = { width: 1280, height: 800 };
// The view's fixed panels (src/gui/mod.rs): the scene is the rectangle between them.
const TOP_BAR = 48;
const LEFT_PANEL = 300;
const RIGHT_PANEL = 340;
const READY_TIMEOUT_MS = 180_000;

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
};

// The native recording is also served here, for the drag-and-drop check.
const RECORDING_URL = '/__test/recording.sqlite';

function serve(root) {
  const server = createServer(async (request, response) => {
    const path = new URL(request.url, 'http://localhost').pathname;
    const file = path === RECORDING_URL ? resolve(recordingPath) : resolve(root, '.' + (path === '/' ? '/index.html' : path));
    try {
      if (path !== RECORDING_URL && !file.startsWith(resolve(root))) throw new Error('outside the root');
      const body = await readFile(file);
      response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      response.end(body);
    } catch {
      response.writeHead(404);
      response.end('not found');
    }
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done(server)));
}

const failures = [];
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

async function launch(extraArgs = []) {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless=new',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
      '--ignore-gpu-blocklist',
      '--no-sandbox',
      '--no-first-run',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--window-size=${VIEWPORT.width},${VIEWPORT.height}`,
      ...extraArgs,
    ],
  });
}

/// Opens a page and records every console line and uncaught error.
async function openPage(browser, url, log) {
  const page = await browser.newPage();
  await page.setViewport(VIEWPORT);
  page.on('console', (message) => log.push({ type: message.type(), text: message.text() }));
  page.on('pageerror', (error) => log.push({ type: 'pageerror', text: String(error) }));
  // Whether the loading message shows is recorded by the page itself when its document is parsed: asking after
  // goto() returns races the first frame on a busy machine (CI once saw the frame drawn before the question).
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('DOMContentLoaded', () => {
      const message = document.getElementById('dais-message');
      window.daisMessageAtLoad = {
        shown: message !== null && getComputedStyle(message).display !== 'none',
        text: message?.textContent.trim() ?? '',
        ms: performance.now(),
      };
    });
  });
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  return page;
}

async function waitForConsole(log, pattern, timeout) {
  const start = Date.now();
  while (Date.now() - start < timeout) {
    const line = log.find((entry) => pattern.test(entry.text));
    if (line) return line;
    if (log.some(isProblem)) return null;
    await new Promise((done) => setTimeout(done, 100));
  }
  return null;
}

function isProblem(entry) {
  return entry.type === 'error' || entry.type === 'pageerror' || /panicked/i.test(entry.text);
}

async function state(page) {
  return page.evaluate(() => window.daisState ?? null);
}

async function waitForState(page, predicate, timeout) {
  const start = Date.now();
  let last = null;
  while (Date.now() - start < timeout) {
    last = await state(page);
    if (last && predicate(last)) return last;
    await new Promise((done) => setTimeout(done, 100));
  }
  return last;
}

// Agent colours of the scene (src/gui/palette.rs), as 8-bit sRGB.
const PALETTE = { healthy: [79, 163, 224], immune: [48, 196, 140] };

/// Decodes a screenshot in the page itself and measures the scene rectangle: how many colours, how many pixels
/// differ from the scene's background, and how many have each palette colour.
async function sceneStats(page, png) {
  return page.evaluate(
    async (base64, rect, palette) => {
      const image = new Image();
      image.src = `data:image/png;base64,${base64}`;
      await image.decode();
      const canvas = new OffscreenCanvas(image.width, image.height);
      const context = canvas.getContext('2d');
      context.drawImage(image, 0, 0);
      const { data } = context.getImageData(rect.x, rect.y, rect.width, rect.height);
      const counts = new Map();
      for (let i = 0; i < data.length; i += 4) {
        const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      let background = 0;
      let most = 0;
      for (const [key, count] of counts) {
        if (count > most) [background, most] = [key, count];
      }
      const [br, bg, bb] = [background >> 16, (background >> 8) & 255, background & 255];
      const distance = (i, [r, g, b]) => Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b);
      let drawn = 0;
      const painted = Object.fromEntries(Object.keys(palette).map((name) => [name, 0]));
      for (let i = 0; i < data.length; i += 4) {
        if (distance(i, [br, bg, bb]) > 60) drawn++;
        for (const [name, colour] of Object.entries(palette)) {
          if (distance(i, colour) < 30) painted[name]++;
        }
      }
      return { width: image.width, height: image.height, colours: counts.size, drawn, painted };
    },
    png.toString('base64'),
    {
      x: LEFT_PANEL,
      y: TOP_BAR,
      width: VIEWPORT.width - LEFT_PANEL - RIGHT_PANEL,
      height: VIEWPORT.height - TOP_BAR,
    },
    PALETTE,
  );
}

async function screenshot(page, name) {
  const png = Buffer.from(await page.screenshot({ type: 'png' }));
  await writeFile(join(outDir, name), png);
  return png;
}

// egui draws its buttons into the canvas, so the test clicks where the view's fixed layout puts them at 1280x800
// (see web/test/out/page-live.png).
const BUTTONS = {
  play: { x: 84, y: 24 },
  download: { x: 52, y: 78 },
  liveRun: { x: 219, y: 78 },
  video: { x: 70, y: 104 },
};

async function main() {
  await mkdir(outDir, { recursive: true });
  const server = await serve(distDir);
  const base = `http://127.0.0.1:${server.address().port}/`;
  const browser = await launch();
  try {
    // 1. The page loads, says it is ready, and logs no error or panic.
    const log = [];
    const loadStart = Date.now();
    const page = await openPage(browser, base, log);
    const ready = await waitForConsole(log, /^dais: ready/, READY_TIMEOUT_MS);
    check(ready !== null, 'the page logs its ready line');
    if (!ready) throw new Error(`no ready line; console:\n${log.map((e) => `${e.type}: ${e.text}`).join('\n')}`);
    const firstFrameMs = await page.evaluate(() => window.daisFirstFrameMs);
    const atLoad = await page.evaluate(() => window.daisMessageAtLoad ?? null);
    check(
      atLoad !== null && atLoad.shown && /Loading DAIS/.test(atLoad.text) && atLoad.ms < firstFrameMs,
      `a loading message shows before the first frame (${JSON.stringify(atLoad)})`,
    );
    console.log(`measured: first frame ${Math.round(firstFrameMs)} ms after navigation (${Date.now() - loadStart} ms wall)`);
    const hidden = await page.$eval('#dais-message', (el) => el.classList.contains('hidden'));
    check(hidden, 'the loading message is gone once the first frame is drawn');

    // 2. The canvas fills the window and is not blank.
    await new Promise((done) => setTimeout(done, 1500));
    const canvasSize = await page.$eval('#dais-canvas', (el) => [el.clientWidth, el.clientHeight]);
    check(canvasSize[0] === VIEWPORT.width && canvasSize[1] === VIEWPORT.height,
      `the canvas fills the window (${canvasSize.join('x')})`);
    const first = await sceneStats(page, await screenshot(page, 'page-live.png'));
    console.log(`scene at tick 0: ${JSON.stringify(first)}`);
    check(first.drawn > 10_000 && first.painted.healthy > 5_000,
      'the scene is drawn (not blank): healthy-blue nodes and their links');
    const opened = await state(page);
    check(opened && !opened.replay && opened.tick === 0 && opened.last > 0,
      `the classroom run opens live and paused (${JSON.stringify(opened)})`);

    // 3. Play advances the tick counter.
    await page.mouse.click(BUTTONS.play.x, BUTTONS.play.y);
    const playing = await waitForState(page, (s) => s.playing && s.tick >= 3, 30_000);
    check(playing && playing.tick >= 3, `clicking Play advances the tick (${JSON.stringify(playing)})`);
    const t0 = Date.now();
    const tick0 = (await state(page)).tick;
    await new Promise((done) => setTimeout(done, 4000));
    const tick1 = (await state(page)).tick;
    console.log(`measured: ${((tick1 - tick0) / ((Date.now() - t0) / 1000)).toFixed(1)} ticks/s playing at the default speed`);

    // 4. A recording made by the native binary opens as a replay with its tick count, and scrubs.
    const input = await page.$('#dais-file');
    await input.uploadFile(resolve(recordingPath));
    const replay = await waitForState(page, (s) => s.replay, 30_000);
    check(replay && replay.replay && replay.last === recordingTicks && replay.tick === 1,
      `the native recording replays with its ${recordingTicks} ticks (${JSON.stringify(replay)})`);
    await new Promise((done) => setTimeout(done, 1000));
    const replayShot = await sceneStats(page, await screenshot(page, 'page-replay.png'));
    check(replayShot.drawn > 2000, 'the replay is drawn');
    await page.mouse.click(BUTTONS.play.x, BUTTONS.play.y);
    const scrubbed = await waitForState(page, (s) => s.replay && s.tick > 5, 30_000);
    check(scrubbed && scrubbed.tick > 5, `the replay plays forward (${JSON.stringify(scrubbed)})`);

    // "Live run" leaves the replay; a recording dropped on the page opens it again.
    await page.mouse.click(BUTTONS.liveRun.x, BUTTONS.liveRun.y);
    const live = await waitForState(page, (s) => !s.replay, 30_000);
    check(live && !live.replay && live.last === opened.last, `"Live run" goes back to the classroom run (${JSON.stringify(live)})`);
    await page.evaluate(async (url) => {
      const bytes = await (await fetch(url)).arrayBuffer();
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], 'dropped.sqlite'));
      window.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, RECORDING_URL);
    const dropped = await waitForState(page, (s) => s.replay, 30_000);
    check(dropped && dropped.replay && dropped.last === recordingTicks,
      `a recording dropped on the page replays (${JSON.stringify(dropped)})`);

    // 5. The window resizes and the canvas follows.
    await page.setViewport({ width: 1000, height: 700 });
    await new Promise((done) => setTimeout(done, 1000));
    const resized = await page.$eval('#dais-canvas', (el) => [el.clientWidth, el.clientHeight]);
    check(resized[0] === 1000 && resized[1] === 700, `the canvas follows a resize (${resized.join('x')})`);

    const problems = log.filter(isProblem);
    check(problems.length === 0, `no error or panic on the console${problems.length ? ':\n' + problems.map((e) => `  ${e.type}: ${e.text}`).join('\n') : ''}`);
    await page.close();

    // 6. Flat out: the classroom preset's tick rate in the page.
    const fastLog = [];
    const fast = await openPage(browser, `${base}?play&speed=240`, fastLog);
    await waitForConsole(fastLog, /^dais: ready/, READY_TIMEOUT_MS);
    const start = await waitForState(fast, (s) => s.tick >= 1, 30_000);
    const assetsAtStart = await fast.evaluate(() => window.daisAssetCounts);
    // Count the page's animation frames while the run plays.
    await fast.evaluate(() => {
      window.daisFrames = 0;
      const count = () => {
        window.daisFrames++;
        requestAnimationFrame(count);
      };
      requestAnimationFrame(count);
    });
    const fastStart = Date.now();
    const done = await waitForState(fast, (s) => s.tick >= s.last || !s.playing, 120_000);
    const seconds = (Date.now() - fastStart) / 1000;
    const frames = await fast.evaluate(() => window.daisFrames);
    console.log(`measured: classroom preset ${((done.tick - start.tick) / seconds).toFixed(1)} ticks/s at speed 240 (${done.tick - start.tick} ticks in ${seconds.toFixed(1)} s, ${(frames / seconds).toFixed(1)} frames/s)`);
    check(done.tick === done.last, `the run plays to its end (${JSON.stringify(done)})`);
    await new Promise((resume) => setTimeout(resume, 500));
    const end = await sceneStats(fast, await screenshot(fast, 'page-end.png'));
    console.log(`scene at the end: ${JSON.stringify(end)}`);
    check(end.painted.immune > 2_000, 'by the end of the classroom run agents show immune green');
    const assetsAtEnd = await fast.evaluate(() => window.daisAssetCounts);
    // No kind of asset may grow while the run plays (one that egui frees on the way is no leak).
    const grown = Object.keys(assetsAtEnd).filter((kind) => assetsAtEnd[kind] > (assetsAtStart[kind] ?? 0));
    check(grown.length === 0,
      `playing ${done.tick - start.tick} ticks created no assets (${JSON.stringify(assetsAtStart)} -> ${JSON.stringify(assetsAtEnd)})`);

    // 7. The finished run's recording downloads as a ledger file (web/test.sh verifies it with the native binary).
    const cdp = await fast.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: resolve(outDir) });
    await fast.mouse.click(BUTTONS.download.x, BUTTONS.download.y);
    let downloaded;
    for (let i = 0; i < 100 && !downloaded; i++) {
      await new Promise((resume) => setTimeout(resume, 100));
      downloaded = (await readdir(outDir)).find((f) => /^dais-seed\d+-tick\d+\.sqlite$/.test(f));
    }
    check(downloaded === `dais-seed42-tick${done.tick}.sqlite`, `Download saves the run's ledger (${downloaded})`);
    if (downloaded) {
      const head = (await readFile(join(outDir, downloaded))).subarray(0, 15).toString();
      check(head === 'SQLite format 3', 'the download is an SQLite file');
    }
    // 8. "Record video" films the canvas with the browser's MediaRecorder until "Stop", and saves a WebM file.
    await screenshot(fast, 'page-video-button.png');
    await fast.mouse.click(BUTTONS.video.x, BUTTONS.video.y);
    await new Promise((resume) => setTimeout(resume, 2_000));
    await fast.mouse.click(BUTTONS.video.x, BUTTONS.video.y);
    let film;
    for (let i = 0; i < 100 && !film; i++) {
      await new Promise((resume) => setTimeout(resume, 100));
      film = (await readdir(outDir)).find((f) => /^dais-tick\d+\.webm$/.test(f));
    }
    check(film !== undefined, `Record video saves a WebM film (${film})`);
    if (film) {
      await new Promise((resume) => setTimeout(resume, 500));
      const bytes = await readFile(join(outDir, film));
      // WebM is Matroska: an EBML header (1A 45 DF A3), then frames.
      check(bytes.length > 1_000 && bytes.subarray(0, 4).equals(Buffer.from([0x1a, 0x45, 0xdf, 0xa3])),
        `the film is WebM with frames in it (${bytes.length} bytes)`);
    }
    check(fastLog.filter(isProblem).length === 0, 'no error or panic while running flat out');
    await fast.close();

    // 10. A lesson opens from the address, and the class crashes the authority it points at.
    const lessonLog = [];
    const lesson = await openPage(browser, `${base}?lesson=single-point-of-failure`, lessonLog);
    await waitForConsole(lessonLog, /^dais: ready/, READY_TIMEOUT_MS);
    const classState = () => lesson.evaluate(() => window.daisClassState ?? null);
    let shown = null;
    for (let i = 0; i < 300 && !(shown && shown.lessonShown); i++) {
      await new Promise((resume) => setTimeout(resume, 100));
      shown = await classState();
    }
    check(shown && shown.lessonStep === 0 && shown.lessonShown,
      `?lesson= opens the lesson at its first caption (${JSON.stringify(shown)})`);
    await new Promise((resume) => setTimeout(resume, 1000));
    const lessonShot = await sceneStats(lesson, await screenshot(lesson, 'page-lesson.png'));
    check(lessonShot.drawn > 5_000, 'the lesson zooms to the authority and draws it');
    // The first step zooms to the authority: it sits in the middle of the scene above the caption box.
    const CAPTION_BOX = 210;
    await lesson.mouse.click(
      LEFT_PANEL + (VIEWPORT.width - LEFT_PANEL - RIGHT_PANEL) / 2,
      TOP_BAR + (VIEWPORT.height - TOP_BAR - CAPTION_BOX) / 2,
    );
    await new Promise((resume) => setTimeout(resume, 500));
    await lesson.keyboard.press('KeyC');
    let asked = null;
    for (let i = 0; i < 50 && !(asked && asked.interventions === 1); i++) {
      await new Promise((resume) => setTimeout(resume, 100));
      asked = await classState();
    }
    check(asked && asked.interventions === 1, `C on the picked node schedules a crash (${JSON.stringify(asked)})`);
    await lesson.keyboard.press('Enter');
    let crashed = null;
    for (let i = 0; i < 100 && !(crashed && crashed.crashed === 1); i++) {
      await new Promise((resume) => setTimeout(resume, 100));
      crashed = await classState();
    }
    check(crashed && crashed.crashed === 1 && crashed.lessonStep === 1,
      `Enter goes on with the lesson and the crash takes effect (${JSON.stringify(crashed)})`);
    await screenshot(lesson, 'page-lesson-crashed.png');
    check(lessonLog.filter(isProblem).length === 0, 'no error or panic in the lesson');
    await lesson.close();
  } finally {
    await browser.close();
  }

  // 9. Without WebGL2 the page says so in words.
  const noGl = await launch(['--disable-webgl2', '--disable-3d-apis']);
  try {
    const page = await openPage(noGl, base, []);
    await page.waitForFunction(() => document.getElementById('dais-message-text').textContent.includes('WebGL2'), { timeout: 30_000 }).catch(() => {});
    const text = await page.$eval('#dais-message-text', (el) => el.textContent);
    await screenshot(page, 'page-no-webgl2.png');
    check(text.includes('needs WebGL2'), `without WebGL2 the page says so ("${text}")`);
  } finally {
    await noGl.close();
  }
  server.close();

  if (failures.length) {
    console.error(`browser test: ${failures.length} check(s) failed`);
    process.exit(1);
  }
  console.log('browser test: all checks passed');
}

main().catch((error) => {
  console.error(`browser test: ${error.stack ?? error}`);
  process.exit(1);
});
