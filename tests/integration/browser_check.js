// SPDX-License-Identifier: GPL-2.0
// Drives Debian's Chromium with playwright-core for tests/integration/test_browser.py.
//
//   node browser_check.js speedscope URL PNG_PREFIX
//   node browser_check.js flame URL PNG_PREFIX
//
// Prints one JSON object on stdout: what the page logged, its errors, and what it
// shows; the pytest side holds the ground truth and does the asserting.
'use strict';

const path = require('path');

const NPM = process.env.PYMEM_NPM_DIR;
const { chromium } = require(path.join(NPM, 'node_modules', 'playwright-core'));

// Without the networking flags Chromium keeps trying hosts this machine cannot reach.
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT = 60000;

function watch(page, out) {
	page.on('console', (m) => out.console.push({ type: m.type(), text: m.text() }));
	page.on('pageerror', (e) => out.pageerrors.push(String(e && e.stack || e)));
	page.on('requestfailed', (r) => out.failed.push(r.url()));
}

async function speedscope(page, url, png, out) {
	await page.goto(url);
	// The profile switcher reads "<profile name> (1/N)" once the import is done.
	await page.waitForFunction(() => /\(1\/\d+\)/.test(document.body.innerText),
		null, { timeout: TIMEOUT });
	await page.waitForTimeout(1000);	// let the WebGL canvas draw
	out.title = await page.title();
	out.toolbar = await page.evaluate(() => document.body.innerText);
	out.canvases = await page.evaluate(() => document.querySelectorAll('canvas').length);
	await page.screenshot({ path: png + '-time-order.png' });

	// The sandwich view lists functions by name in a DOM table; it draws only the rows on
	// screen, so sort by total to bring the callers of the allocators up.
	await page.getByText('Sandwich').click();
	await page.waitForTimeout(500);
	await page.getByText('Total', { exact: true }).click();
	await page.waitForTimeout(1000);
	out.sandwich = await page.evaluate(() => document.body.innerText);
	await page.screenshot({ path: png + '-sandwich.png' });
}

// Every drawn frame: its path from the root, and where it is drawn.
function frames(page) {
	return page.evaluate(() => Array.from(document.querySelectorAll('#fg .fr')).map((el) => {
		const r = el.getBoundingClientRect();
		const p = [];

		for (let n = el.pmNode; n && n.p; n = n.p)
			p.unshift(n.n);
		return { text: el.textContent, path: p, x: r.left, y: r.top, w: r.width,
			h: r.height, up: el.classList.contains('up') };
	}));
}

async function flame(page, url, png, out) {
	await page.goto(url);
	await page.waitForSelector('#fg .fr', { timeout: TIMEOUT });
	out.title = await page.title();
	out.header = await page.evaluate(() => {
		const h = document.querySelector('header');
		return h ? h.innerText : '';
	});
	out.views = [];
	const buttons = page.locator('#views button');
	const n = await buttons.count();
	// First as the page opens, then after a click on each view button.
	out.initial = { label: await page.locator('#views button.on').innerText(),
		frames: await frames(page) };
	await page.screenshot({ path: png + '-initial.png' });
	for (let i = 0; i < n; i++) {
		const b = buttons.nth(i);
		await b.click();
		out.views.push({ label: await b.innerText(), on: await b.getAttribute('class'),
			frames: await frames(page) });
		await page.screenshot({ path: png + '-view' + i + '.png' });
	}

	// Hover: the tooltip names the frame under the pointer.
	await buttons.nth(0).click();
	const target = page.locator('#fg .fr').nth(3);
	await target.hover();
	out.hover = { frame: await target.innerText(),
		tip: await page.locator('#tip').innerText(),
		shown: await page.locator('#tip').isVisible() };
	await page.screenshot({ path: png + '-hover.png' });

	// Click to zoom: the frame then spans the whole graph.
	await target.click();
	out.zoom = { frame: out.hover.frame, frames: await frames(page) };
	await page.screenshot({ path: png + '-zoom.png' });
	await page.locator('#reset').click();

	// Search highlights and reports a match.
	await page.locator('#search').fill(process.env.PYMEM_SEARCH || 'main');
	out.search = await page.locator('#match').innerText();
	await page.screenshot({ path: png + '-search.png' });
}

(async () => {
	const [mode, url, png] = process.argv.slice(2);
	const out = { console: [], pageerrors: [], failed: [] };
	let browser;

	try {
		browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
		const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });

		watch(page, out);
		if (mode === 'speedscope')
			await speedscope(page, url, png, out);
		else if (mode === 'flame')
			await flame(page, url, png, out);
		else
			throw new Error('unknown mode ' + mode);
	} catch (e) {
		out.error = String(e && e.stack || e);
	} finally {
		if (browser)
			await browser.close();
	}
	process.stdout.write(JSON.stringify(out) + '\n');
})();
