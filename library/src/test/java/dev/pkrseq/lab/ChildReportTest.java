package dev.pkrseq.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;

/** The one parent/child protocol: what a child puts, the parent reads back, typed, whatever the text. */
class ChildReportTest {

    @Test
    void valuesWithNewlinesAndBackslashesComeBackAsPut() {
        String out = captured(() -> {
            ChildReport.put("a.text", "line one\nline two\\n\r end");
            ChildReport.put("a.count", 42);
            ChildReport.put("a.ok", true);
        });
        assertEquals(3, out.lines().count(), "one line per value: " + out);
        ChildReport r = ChildReport.parse(out);
        assertEquals("line one\nline two\\n\r end", r.get("a.text"));
        assertEquals(42, r.getInt("a.count"));
        assertEquals(42L, r.getLong("a.count"));
        assertTrue(r.getBoolean("a.ok"));
        assertEquals(Map.of("text", "line one\nline two\\n\r end", "count", "42", "ok", "true").keySet(),
                r.under("a.").keySet());
    }

    @Test
    void otherOutputOfTheChildIsNotPartOfTheReport() {
        ChildReport r = ChildReport.parse("OpenJDK 64-Bit Server VM warning: something=odd\npage=0x1000\n"
                + "\tat x.y(Z.java:1)\npage=0x2000\n");
        assertEquals(List.of("0x1000", "0x2000"), r.all("page"));
        assertEquals(Optional.empty(), r.first("OpenJDK 64-Bit Server VM warning: something"));
    }

    @Test
    void aValueTheChildDidNotReportIsRefusedByName() {
        ChildJvm.ChildJvmException e = assertThrows(ChildJvm.ChildJvmException.class,
                () -> ChildReport.parse("page=1\n").get("key"));
        assertTrue(e.getMessage().contains("did not report 'key'") && e.getMessage().contains("[page]"), e.getMessage());
    }

    @Test
    void aKeyThatIsNotADottedNameIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> ChildReport.put("a=b", 1));
        assertThrows(IllegalArgumentException.class, () -> ChildReport.put("with space", 1));
    }

    private static String captured(Runnable r) {
        PrintStream old = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        try {
            r.run();
        } finally {
            System.setOut(old);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
