package dev.pkrseq.testing;

import java.lang.reflect.AnnotatedElement;
import java.util.Optional;

import net.jqwik.api.lifecycle.AfterContainerHook;
import net.jqwik.api.lifecycle.BeforeContainerHook;
import net.jqwik.api.lifecycle.ContainerLifecycleContext;

/**
 * Runs {@link LeakCheck} after every jqwik test class (jqwik is its own test engine, so Jupiter
 * extensions do not reach its classes). Registered for all of them through
 * {@code META-INF/services/net.jqwik.api.lifecycle.LifecycleHook}.
 */
// Both hook interfaces declare compareTo(their own type); jqwik orders hooks by it, and never with a mix.
@SuppressWarnings("overloads")
public final class LeakCheckHook implements BeforeContainerHook, AfterContainerHook {
    /** Created by jqwik's service loading. */
    public LeakCheckHook() {
    }

    @Override
    public boolean appliesTo(Optional<AnnotatedElement> element) {
        return element.map(e -> e instanceof Class<?>).orElse(false);
    }

    @Override
    public void beforeContainer(ContainerLifecycleContext context) {
        LeakCheck.beforeClass();
    }

    @Override
    public void afterContainer(ContainerLifecycleContext context) {
        LeakCheck.afterClass(context.optionalContainerClass().map(Class::getName).orElse(context.label()));
    }
}
