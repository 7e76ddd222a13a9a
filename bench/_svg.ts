/**
 * A grouped bar chart as hand-written SVG, with no dependencies: one panel
 * per (metric, storage), groups per TLS mode, one bar per runtime, the ratio
 * to Dovecot on the y axis with reference lines at 1× and at the target.
 *
 * @module
 */

/** One panel of the chart. */
export interface Panel {
  /** Title above the panel. */
  title: string;
  /** Target ratio drawn as a dashed line (and 1× always). */
  target: number;
  /** Group labels (x axis), e.g. plain, STLS, TLS. */
  groups: string[];
  /** Series (bars in each group), e.g. Deno, Bun, Node. */
  series: string[];
  /** values[group][series]: a ratio, or NaN when not measured. */
  values: number[][];
}

const COLORS = ["#2f6db5", "#d9822b", "#3a9e5c", "#8a5cc2"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Renders panels in a grid of `columns` columns.
 *
 * @param title The chart's title.
 * @param panels The panels, row by row.
 * @param columns Panels per row.
 * @param note A line of small text under the title.
 * @returns The SVG document.
 * @example
 * ```ts
 * const svg = barChart("t", [{ title: "p", target: 2, groups: ["plain"],
 *   series: ["Deno"], values: [[1.5]] }], 1, "");
 * ```
 */
export function barChart(
  title: string,
  panels: Panel[],
  columns: number,
  note: string,
): string {
  const pw = 300;
  const ph = 210;
  const top = 56;
  const legend = 26;
  const rows = Math.ceil(panels.length / columns);
  const width = pw * columns + 20;
  const height = top + legend + ph * rows + 10;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${
      esc(title)
    }</text>`,
    `<text x="10" y="38" fill="#555">${esc(note)}</text>`,
  );
  out.push(
    `<text x="${width - 10}" y="${top + 6}" text-anchor="end" fill="#555">` +
      `solid line: Dovecot (1×); dashed red: the #17 target</text>`,
  );
  const series = panels[0]?.series ?? [];
  series.forEach((s, i) => {
    const x = 10 + i * 90;
    out.push(
      `<rect x="${x}" y="${top - 4}" width="12" height="12" fill="${
        COLORS[i % COLORS.length]
      }"/>`,
      `<text x="${x + 16}" y="${top + 6}">${esc(s)}</text>`,
    );
  });
  panels.forEach((p, k) => {
    const ox = 10 + (k % columns) * pw;
    const oy = top + legend + Math.floor(k / columns) * ph;
    const left = ox + 34;
    const plotW = pw - 50;
    const plotTop = oy + 22;
    const plotH = ph - 60;
    const finite = p.values.flat().filter(Number.isFinite);
    const max = Math.max(p.target * 1.15, 1.2, ...finite.map((v) => v * 1.1));
    const y = (v: number) => plotTop + plotH - (v / max) * plotH;
    out.push(
      `<text x="${ox + pw / 2 - 8}" y="${
        oy + 12
      }" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`,
      `<line x1="${left}" y1="${plotTop}" x2="${left}" y2="${
        plotTop + plotH
      }" stroke="#999"/>`,
      `<line x1="${left}" y1="${plotTop + plotH}" x2="${left + plotW}" y2="${
        plotTop + plotH
      }" stroke="#999"/>`,
    );
    for (const [v, dash] of [[1, ""], [p.target, "4 3"]] as const) {
      const color = dash ? "#c33" : "#333";
      out.push(
        `<line x1="${left}" y1="${y(v).toFixed(1)}" x2="${left + plotW}" y2="${
          y(v).toFixed(1)
        }" stroke="${color}" stroke-dasharray="${dash}"/>`,
        `<text x="${left - 4}" y="${
          (y(v) + 3).toFixed(1)
        }" text-anchor="end" fill="${color}" font-size="9">${v}×</text>`,
      );
      if (p.target === 1) break;
    }
    out.push(
      `<text x="${left - 4}" y="${
        (y(0) + 3).toFixed(1)
      }" text-anchor="end" font-size="9">0</text>`,
      `<text x="${left - 4}" y="${
        (y(max) + 8).toFixed(1)
      }" text-anchor="end" font-size="9">${max.toFixed(1)}×</text>`,
    );
    const gw = plotW / p.groups.length;
    const bw = Math.min(22, (gw - 12) / p.series.length);
    p.groups.forEach((g, gi) => {
      const gx = left + gi * gw + (gw - bw * p.series.length) / 2;
      out.push(
        `<text x="${left + gi * gw + gw / 2}" y="${
          plotTop + plotH + 14
        }" text-anchor="middle">${esc(g)}</text>`,
      );
      p.series.forEach((_, si) => {
        const v = p.values[gi]?.[si] ?? NaN;
        const x = gx + si * bw;
        if (!Number.isFinite(v)) {
          out.push(
            `<text x="${x + bw / 2}" y="${
              plotTop + plotH - 3
            }" text-anchor="middle" font-size="9" fill="#999">–</text>`,
          );
          return;
        }
        const h = Math.max(0.5, (Math.min(v, max) / max) * plotH);
        out.push(
          `<rect x="${x.toFixed(1)}" y="${(plotTop + plotH - h).toFixed(1)}" ` +
            `width="${(bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${
              COLORS[si % COLORS.length]
            }"><title>${
              esc(`${p.title}, ${g}, ${p.series[si]}: ${v.toFixed(2)}×`)
            }</title></rect>`,
          `<text x="${(x + bw / 2 - 1).toFixed(1)}" y="${
            (plotTop + plotH - h - 2).toFixed(1)
          }" text-anchor="middle" font-size="8">${v.toFixed(2)}</text>`,
        );
      });
    });
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
