package dev.pkrseq.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.util.List;
import java.util.Properties;
import java.util.ServiceLoader;

import dev.pkrseq.pkey.Pkru;
import net.jqwik.api.lifecycle.LifecycleHook;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.Extension;

/** The leak check's verdicts, on made-up states: it must name the class and what it left. */
class LeakCheckSelfTest {
    private static final LeakCheck.State CLEAN = new LeakCheck.State(List.of(), 15, Pkru.INITIAL, List.of());

    @Test
    void cleanStateGivesNoVerdict() {
        assertNull(LeakCheck.verdict("a.B", CLEAN, CLEAN, Pkru.INITIAL, "a.A"));
    }

    @Test
    void taggedPageIsBlamedOnTheClassThatLeftIt() {
        LeakCheck.State after = new LeakCheck.State(List.of("0x1000-0x2000 rw-p key 3"), 15, Pkru.INITIAL, List.of());
        String v = LeakCheck.verdict("a.B", CLEAN, after, Pkru.INITIAL, "a.A");
        assertEquals("leak check after a.B: pages still carry a non-zero protection key: 0x1000-0x2000 rw-p key 3", v);
    }

    @Test
    void unfreedKeyChangedPkruAndRegisteredAreaAreEachNamed() {
        LeakCheck.State after = new LeakCheck.State(List.of(), 14, Pkru.INITIAL.with(3, dev.pkrseq.pkey.Rights.READ_WRITE),
                List.of("0x7f00 REGISTERED tid 12 'w'"));
        String v = LeakCheck.verdict("a.B", CLEAN, after, Pkru.INITIAL, "a.A");
        assertTrue(v.startsWith("leak check after a.B: "), v);
        assertTrue(v.contains("only 14 of 15 protection keys are allocatable"), v);
        assertTrue(v.contains("has PKRU 0x55555514, not 0x55555554"), v);
        assertTrue(v.contains("rseq pool still has registered areas: 0x7f00 REGISTERED tid 12 'w'"), v);
    }

    @Test
    void aLeakIsBlamedOnceNotOnEveryLaterClass() {
        LeakCheck.State dirty = new LeakCheck.State(List.of("0x1000-0x2000 rw-p key 3"), 14, Pkru.INITIAL, List.of());
        assertNull(LeakCheck.verdict("a.C", dirty, dirty, Pkru.INITIAL, "a.B"));
        LeakCheck.State worse = new LeakCheck.State(List.of("0x1000-0x2000 rw-p key 3", "0x5000-0x6000 r--p key 4"), 13,
                Pkru.INITIAL, List.of());
        String v = LeakCheck.verdict("a.C", dirty, worse, Pkru.INITIAL, "a.B");
        assertTrue(v.startsWith("leak check after a.C: pages still carry a non-zero protection key: 0x5000-0x6000 r--p key 4;"), v);
        assertTrue(v.contains("(already left before it, by a.B or earlier"), v);
    }

    @Test
    void theExtensionIsRegisteredForEveryJupiterClassAndTheHookForEveryJqwikClass() throws Exception {
        Properties config = new Properties();
        try (InputStream in = LeakCheckSelfTest.class.getResourceAsStream("/junit-platform.properties")) {
            config.load(in);
        }
        assertEquals("true", config.getProperty("junit.jupiter.extensions.autodetection.enabled"));
        assertTrue(ServiceLoader.load(Extension.class).stream().anyMatch(p -> p.type() == LeakCheckExtension.class));
        assertTrue(ServiceLoader.load(LifecycleHook.class).stream().anyMatch(p -> p.type() == LeakCheckHook.class));
    }
}
