package dev.pkrseq.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Paint;
import java.awt.Rectangle;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;

import org.jfree.chart.JFreeChart;
import org.jfree.chart.LegendItem;
import org.jfree.chart.LegendItemCollection;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.annotations.CategoryLineAnnotation;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.RectangleInsets;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.svg.SVGGraphics2D;

/**
 * The run as an SVG: a bar per benchmark, grouped and coloured by benchmark class, with an error bar for
 * JMH's 99.9% confidence interval, on a log scale because the scores span from below a nanosecond to
 * microseconds; below it, a panel with every ratio of the report, its value, its target and its verdict,
 * so that the picture says what the report says. Drawn by JFreeChart into JFreeSVG; headless.
 */
final class Chart {
    private static final Color[] PALETTE = {
        new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728),
        new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f)};
    private static final Color PASS = new Color(0x2ca02c);
    private static final Color FAIL = new Color(0xd62728);
    private static final Color NOT_MEASURED = new Color(0x7f7f7f);
    private static final int WIDTH = 1100;
    private static final int ROW = 22;
    private static final Font LABEL = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
    private static final Font BOLD = new Font(Font.SANS_SERIF, Font.BOLD, 12);

    private Chart() {
    }

    static String svg(Run run) {
        System.setProperty("java.awt.headless", "true");
        List<Result> timed = new ArrayList<>(run.results().stream().filter(r -> nanosPer(r.unit()) > 0).toList());
        // A class's bars together, classes in the order the run met them (a later invocation may add to one).
        List<String> order = timed.stream().map(Result::group).distinct().toList();
        timed.sort(java.util.Comparator.comparingInt(r -> order.indexOf(r.group())));
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        List<double[]> intervals = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        Map<String, Color> groupColour = new LinkedHashMap<>();
        List<Color> barColour = new ArrayList<>();
        double min = Double.MAX_VALUE;
        double max = 0;
        for (Result r : timed) {
            double ns = r.score() * nanosPer(r.unit());
            double error = Double.isNaN(r.error()) ? 0 : r.error() * nanosPer(r.unit());
            String label = label(r, timed);
            data.addValue(ns, "ns/op", label);
            labels.add(label);
            intervals.add(new double[] {ns - error, ns + error});
            Color c = groupColour.computeIfAbsent(r.group(), g -> PALETTE[groupColour.size() % PALETTE.length]);
            barColour.add(c);
            min = Math.min(min, ns);
            max = Math.max(max, ns + error);
        }
        CategoryAxis categories = new CategoryAxis();
        categories.setTickLabelFont(LABEL);
        categories.setCategoryMargin(0.25);
        // Whole labels: the benchmark, its parameters and its threads tell bars apart.
        categories.setMaximumCategoryLabelWidthRatio(0.5f);
        LogAxis values = new LogAxis("nanoseconds per operation (log scale); error bars: JMH's 99.9% confidence interval");
        values.setBase(10);
        values.setTickUnit(new NumberTickUnit(1));
        values.setSmallestValue(0.01);
        if (!timed.isEmpty()) {
            values.setRange(Math.pow(10, Math.floor(Math.log10(min))), Math.pow(10, Math.ceil(Math.log10(max))));
        }
        BarRenderer bars = new BarRenderer() {
            private static final long serialVersionUID = 1L;

            @Override
            public Paint getItemPaint(int row, int column) {
                return barColour.get(column);
            }
        };
        bars.setBarPainter(new StandardBarPainter());
        bars.setShadowVisible(false);
        bars.setDrawBarOutline(false);
        bars.setBase(0.01);
        CategoryPlot plot = new CategoryPlot(data, categories, values, bars);
        plot.setOrientation(PlotOrientation.HORIZONTAL);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(new Color(0xcccccc));
        plot.setRangeGridlineStroke(new BasicStroke(0.5f));
        // Error bars as lines along the value axis. An interval reaching below the axis (an error larger than
        // the score: a log scale has no room for it) runs to the axis's end, never to a NaN coordinate.
        double low = values.getLowerBound();
        for (int i = 0; i < labels.size(); i++) {
            double[] iv = intervals.get(i);
            if (iv[1] > iv[0]) {
                plot.addAnnotation(new CategoryLineAnnotation(labels.get(i), Math.max(iv[0], low), labels.get(i), iv[1],
                        Color.BLACK, new BasicStroke(1.5f)));
            }
        }
        LegendItemCollection legend = new LegendItemCollection();
        groupColour.forEach((g, c) -> legend.add(new LegendItem(g, c)));
        plot.setFixedLegendItems(legend);

        JFreeChart chart = new JFreeChart("pkrseq benchmarks", new Font(Font.SANS_SERIF, Font.BOLD, 16), plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        chart.setPadding(new RectangleInsets(4, 8, 4, 16));
        String subtitle = run.machine() == null ? "JDK " + run.jdk() : run.machine().line(run.jdk());
        chart.addSubtitle(new TextTitle(subtitle, new Font(Font.SANS_SERIF, Font.PLAIN, 11)));
        int chartHeight = 150 + ROW * Math.max(1, timed.size());
        int panelHeight = 70 + ROW * Ratio.ALL.size();
        SVGGraphics2D g = new SVGGraphics2D(WIDTH, chartHeight + panelHeight);
        g.setPaint(Color.WHITE);
        g.fillRect(0, 0, WIDTH, chartHeight + panelHeight);
        chart.draw(g, new Rectangle(0, 0, WIDTH, chartHeight));
        ratioPanel(g, run, chartHeight);
        // No DOCTYPE: SVG 1.1's DTD is obsolete, and XML tools would try to fetch it.
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + g.getSVGElement() + "\n";
    }

    /**
     * A bar's label: class, method, parameters and threads. Where the same method also ran with other
     * threads, one thread says so too, so that "(1 thread)" and "(2 threads)" bars are told apart.
     */
    static String label(Result r, List<Result> all) {
        boolean threadsVary = all.stream().anyMatch(o -> o.group().equals(r.group()) && o.method().equals(r.method())
                && o.threads() != r.threads());
        String l = r.label();
        if (threadsVary && r.threads() == 1) {
            l = r.params().isEmpty() ? l + " (1 thread)" : l.substring(0, l.length() - 1) + ", 1 thread)";
        }
        return r.group() + "  " + l;
    }

    /** The report's ratios as a table: group, formula, value, target, verdict in its colour. */
    private static void ratioPanel(Graphics2D g, Run run, int top) {
        int x = 20;
        int[] col = {x, x + 170, x + 560, x + 630, x + 710};
        g.setPaint(new Color(0x333333));
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString("Ratios: measured in the same run; these, not the absolute numbers, carry over between machines", x,
                top + 24);
        int y = top + 50;
        g.setFont(BOLD);
        String[] heads = {"group", "ratio", "value", "target", "result"};
        for (int i = 0; i < heads.length; i++) {
            g.drawString(heads[i], col[i], y);
        }
        g.setPaint(new Color(0xcccccc));
        g.drawLine(x, y + 6, WIDTH - 20, y + 6);
        FontMetrics fm = g.getFontMetrics(LABEL);
        for (Ratio r : Ratio.ALL) {
            y += ROW;
            OptionalDouble v = r.value(run.results());
            String verdict = Report.verdict(run, r);
            g.setFont(LABEL);
            g.setPaint(new Color(0x333333));
            g.drawString(r.group(), col[0], y);
            g.drawString(fit(r.formula(), fm, col[2] - col[1] - 12), col[1], y);
            g.drawString(v.isPresent() ? Ratio.fmt(v.getAsDouble()) : "—", col[2], y);
            g.drawString(r.targetText(), col[3], y);
            g.setFont(BOLD);
            g.setPaint(verdict.equals("PASS") ? PASS : verdict.equals("FAIL") ? FAIL : NOT_MEASURED);
            g.drawString(fit(shortVerdict(verdict), g.getFontMetrics(BOLD), WIDTH - 20 - col[4]), col[4], y);
        }
    }

    /**
     * The verdict for the panel: PASS and FAIL as they are; "n/a" with the last reason only, for example
     * "n/a: this machine has no protection keys" (the report gives the whole chain).
     */
    static String shortVerdict(String verdict) {
        if (!verdict.startsWith("n/a: ")) {
            return verdict;
        }
        int last = verdict.lastIndexOf("): ");
        return last < 0 ? verdict : "n/a: " + verdict.substring(last + 3);
    }

    /** The text, shortened with "..." where it is wider than {@code width} pixels. */
    private static String fit(String text, FontMetrics fm, int width) {
        if (fm.stringWidth(text) <= width) {
            return text;
        }
        String t = text;
        while (!t.isEmpty() && fm.stringWidth(t + "...") > width) {
            t = t.substring(0, t.length() - 1);
        }
        return t + "...";
    }

    /** Nanoseconds per unit of time per operation, or 0 for a throughput unit. */
    static double nanosPer(String unit) {
        return switch (unit) {
            case "ns/op" -> 1;
            case "us/op" -> 1e3;
            case "ms/op" -> 1e6;
            case "s/op" -> 1e9;
            default -> 0;
        };
    }
}
