package dev.pkrseq.sys;

import dev.pkrseq.Errno;
import dev.pkrseq.NativeException;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Calls through the native layer show up in a JFR recording, and read back from the file. */
class NativeCallEventTest {

    @Test
    void callsAreRecordedAsJfrEventsWithFunctionArgumentsResultAndErrno(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("calls.jfr");
        int tid;
        try (Recording r = new Recording()) {
            r.enable(NativeCallEvent.NAME).withoutThreshold();
            r.start();
            tid = ThreadCalls.gettid();
            assertThrows(NativeException.class, () -> PkeyCalls.pkeyFree(99));
            LoaderCalls.uname();
            r.stop();
            r.dump(file);
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(file).stream()
                .filter(e -> e.getEventType().getName().equals(NativeCallEvent.NAME))
                .filter(e -> e.getThread() != null && e.getThread().getJavaThreadId() == Thread.currentThread().threadId())
                .toList();
        RecordedEvent gettid = find(events, "gettid");
        assertEquals(tid, gettid.getLong("result"));
        assertNull(gettid.getString("errno"));

        RecordedEvent free = find(events, "pkey_free");
        assertEquals("99", free.getString("arguments"));
        assertEquals(-1, free.getLong("result"));
        assertEquals("EINVAL", free.getString("errno"));
        assertFalse(free.getDuration().isNegative());
        assertTrue(free.getEventType().getCategoryNames().contains("pkrseq"));
        assertNull(free.getStackTrace(), "events are recorded without stack traces");

        assertEquals(0, find(events, "uname").getLong("result"));
        assertTrue(Files.size(file) > 0);
    }

    private static RecordedEvent find(List<RecordedEvent> events, String function) {
        return events.stream().filter(e -> function.equals(e.getString("function"))).findFirst()
                .orElseThrow(() -> new AssertionError("no " + function + " event in " + events));
    }
}
