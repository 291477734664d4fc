package dev.pkrseq.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The stderr filter removes the JVM's own "Picked up" notes and keeps every other line. */
class JvmNotesTest {

    @Test
    void pickedUpNotesAreRemovedAndOtherLinesKept() {
        String err = "Picked up JAVA_TOOL_OPTIONS: -XX:TieredStopAtLevel=1\nreal output\n"
                + "NOTE: Picked up JDK_JAVA_OPTIONS: -Xmx1g\nPicked up _JAVA_OPTIONS: -Xss1m\n"
                + "  Picked up JAVA_TOOL_OPTIONS: indented, so not the JVM's\n";
        assertEquals("real output\n  Picked up JAVA_TOOL_OPTIONS: indented, so not the JVM's\n", JvmNotes.withoutJvmNotes(err));
    }

    @Test
    void onlyANoteLeavesNothing() {
        assertEquals("", JvmNotes.withoutJvmNotes("Picked up JAVA_TOOL_OPTIONS: -Xint\n"));
        assertEquals("", JvmNotes.withoutJvmNotes(""));
    }
}
