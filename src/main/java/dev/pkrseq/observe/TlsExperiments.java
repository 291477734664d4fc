package dev.pkrseq.observe;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

import dev.pkrseq.sys.Sys;
import dev.pkrseq.sys.Syscall;
import dev.pkrseq.tls.Tls;
import dev.pkrseq.tls.TlsLayout;
import dev.pkrseq.tls.TlsModule;

/** The experiments about a thread's static TLS map, in report order. */
public final class TlsExperiments {
    private TlsExperiments() {
    }

    /**
     * The TLS experiments.
     *
     * @return a new list, in report order
     */
    public static List<Experiment> all() {
        return new ArrayList<>(List.of(new ModulesInsideBounds()));
    }

    /**
     * {@code tls.modules-inside-bounds}: the loader's own marking of each block (its DTV entry) agrees
     * with the computed bounds. A block the DTV marks static (no separate allocation) must lie inside
     * {@code [low, high)}; a block the loader allocated on the heap must not.
     */
    static final class ModulesInsideBounds implements Experiment {
        @Override
        public String id() {
            return "tls.modules-inside-bounds";
        }

        @Override
        public String title() {
            return "Every static TLS block lies inside the computed static TLS bounds";
        }

        @Override
        public String expected() {
            return "blocks the DTV marks static lie in [tp + TLS_TCB_SIZE - dl_tls_static_size, tp + TLS_TCB_SIZE); "
                    + "dynamic ones lie elsewhere";
        }

        @Override
        public ExperimentResult run() {
            if (!Syscall.architectureSupported()) {
                return ExperimentResult.skipped(this, Syscall.architecture() + " is not supported");
            }
            if (Sys.tlsStaticInfo().isEmpty()) {
                return ExperimentResult.skipped(this, "the C library does not export _dl_get_tls_static_info (not glibc)");
            }
            TlsLayout l = Tls.current();
            List<TlsModule> allocated = l.modules().stream().filter(TlsModule::allocated).toList();
            List<TlsModule> marked = allocated.stream().filter(m -> m.dtv() == TlsModule.DtvState.STATIC).toList();
            List<TlsModule> dynamic = allocated.stream().filter(m -> m.dtv() == TlsModule.DtvState.DYNAMIC).toList();
            List<TlsModule> unmarked = allocated.stream()
                    .filter(m -> m.dtv() != TlsModule.DtvState.STATIC && m.dtv() != TlsModule.DtvState.DYNAMIC).toList();
            List<TlsModule> staticOutside = marked.stream().filter(m -> !m.inStaticTls()).toList();
            List<TlsModule> dynamicInside = dynamic.stream().filter(TlsModule::inStaticTls).toList();
            List<TlsModule> pending = l.modules().stream().filter(m -> !m.allocated()).toList();
            boolean ok = !marked.isEmpty() && staticOutside.isEmpty() && dynamicInside.isEmpty() && unmarked.isEmpty();
            String bounds = String.format("[0x%x, 0x%x)", l.low(), l.high());
            StringBuilder observed = new StringBuilder();
            observed.append(marked.size()).append(" static block(s) ").append(names(marked))
                    .append(staticOutside.isEmpty() ? " inside " : ", of which " + names(staticOutside) + " outside ")
                    .append(bounds).append("; ").append(dynamic.size()).append(" dynamic ").append(names(dynamic))
                    .append(dynamicInside.isEmpty() ? " elsewhere" : ", of which " + names(dynamicInside) + " inside");
            if (!pending.isEmpty()) {
                observed.append("; ").append(pending.size()).append(" not allocated ").append(names(pending));
            }
            if (marked.isEmpty()) {
                observed.append("; no block is marked static (DTV unreadable?)");
            }
            List<String> detail = new ArrayList<>();
            detail.add("thread " + l.thread().label() + ", tp 0x" + Long.toHexString(l.threadPointer()) + ", bounds " + bounds);
            for (TlsModule m : l.modules()) {
                if (!m.inStaticTls() || m.dtv() != TlsModule.DtvState.STATIC) {
                    detail.add(m.module() + " (dtv " + m.dtv() + "): " + (m.allocated() ? String.format("0x%x, ", m.block()) : "")
                            + m.where());
                }
            }
            for (TlsModule m : unmarked) {
                detail.add(m.module() + ": allocated but the DTV entry says " + m.dtv());
            }
            return ExperimentResult.of(this, ok, observed.toString(), String.join("; ", detail));
        }

        private static String names(List<TlsModule> modules) {
            return modules.stream().map(TlsModule::module).collect(Collectors.joining(", ", "(", ")"));
        }
    }
}
