/**
 * pkrseq: Linux protection keys, restartable sequences and static TLS for Java, through the FFM API, and a
 * lab to observe what the kernel does with them.
 */
module dev.pkrseq {
    requires java.management;
    requires jdk.jfr;

    exports dev.pkrseq;
    exports dev.pkrseq.pkey;
    exports dev.pkrseq.rseq;
    exports dev.pkrseq.rseq.percpu;
    exports dev.pkrseq.tls;
    exports dev.pkrseq.lab;

    // The built-in experiments and the reports the CLI presents: the tool's, not a user's API.
    exports dev.pkrseq.lab.pkey to dev.pkrseq.tool;
    exports dev.pkrseq.lab.rseq to dev.pkrseq.tool;
    exports dev.pkrseq.lab.tls to dev.pkrseq.tool;
}
