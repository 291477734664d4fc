package dev.pkrseq.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Paint;
import java.awt.Rectangle;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.jfree.chart.JFreeChart;
import org.jfree.chart.LegendItem;
import org.jfree.chart.LegendItemCollection;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.title.TextTitle;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.svg.SVGGraphics2D;

/**
 * The run as an SVG bar chart: one bar per benchmark, grouped and coloured by benchmark class, on a log
 * scale because the scores span from below a nanosecond to microseconds. Drawn by JFreeChart into
 * JFreeSVG; headless.
 */
final class Chart {
    private static final Color[] PALETTE = {
        new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728),
        new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f)};
    private static final int WIDTH = 1000;

    private Chart() {
    }

    static String svg(Run run) {
        System.setProperty("java.awt.headless", "true");
        List<Result> timed = run.results().stream().filter(r -> nanosPer(r.unit()) > 0).toList();
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        Map<String, Color> groupColour = new LinkedHashMap<>();
        List<Color> barColour = new ArrayList<>();
        double min = Double.MAX_VALUE;
        double max = 0;
        for (Result r : timed) {
            double ns = r.score() * nanosPer(r.unit());
            data.addValue(ns, "ns/op", r.group() + "  " + r.label());
            Color c = groupColour.computeIfAbsent(r.group(), g -> PALETTE[groupColour.size() % PALETTE.length]);
            barColour.add(c);
            min = Math.min(min, ns);
            max = Math.max(max, ns);
        }
        CategoryAxis categories = new CategoryAxis();
        categories.setTickLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        categories.setCategoryMargin(0.25);
        LogAxis values = new LogAxis("nanoseconds per operation (log scale)");
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
        LegendItemCollection legend = new LegendItemCollection();
        groupColour.forEach((g, c) -> legend.add(new LegendItem(g, c)));
        plot.setFixedLegendItems(legend);

        JFreeChart chart = new JFreeChart("pkrseq benchmarks", new Font(Font.SANS_SERIF, Font.BOLD, 16), plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        String subtitle = run.machine() == null ? "JDK " + run.jdk() : run.machine().line(run.jdk());
        chart.addSubtitle(new TextTitle(subtitle, new Font(Font.SANS_SERIF, Font.PLAIN, 11)));
        int height = 140 + 22 * Math.max(1, timed.size());
        SVGGraphics2D g = new SVGGraphics2D(WIDTH, height);
        chart.draw(g, new Rectangle(0, 0, WIDTH, height));
        // No DOCTYPE: SVG 1.1's DTD is obsolete, and XML tools would try to fetch it.
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + g.getSVGElement() + "\n";
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
