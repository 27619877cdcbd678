#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Ctrl-C during `trmdis train`: the first SIGINT asks the run to stop after its current step (which then
/// writes its checkpoint); a second one ends the process at once, as Ctrl-C normally does.
enum Interrupt {
    private static let flag = Atomic<Bool>(false)

    static var requested: Bool { flag.load(ordering: .relaxed) }

    static func install() {
        flag.store(false, ordering: .relaxed)
        signal(SIGINT) { _ in
            if Interrupt.flag.exchange(true, ordering: .relaxed) {
                signal(SIGINT, SIG_DFL)
                raise(SIGINT)
            }
        }
    }

    static func restore() { signal(SIGINT, SIG_DFL) }
}

/// A line on standard error.
func printError(_ line: String) {
    fputs(line + "\n", stderr)
}
