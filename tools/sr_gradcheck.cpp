// sr_gradcheck: runs the gradient check of every registered op and prints one row per op and
// case. A student's first look at the framework: every op in srforge, and proof its backward is
// right. Exits non-zero if any check fails.
//
//   sr_gradcheck            all ops
//   sr_gradcheck conv2d     only ops whose name contains "conv2d"
#include <cstdio>
#include <string>

#include "autograd/gradcheck.h"
#include "cli.h"
#include "ops/registry.h"

namespace {

std::string parse(int argc, char** argv) {
    std::string filter;
    sr::Cli cli("sr_gradcheck", "[NAME-FILTER]", "Checks the backward of every registered op against central differences.");
    cli.positional("NAME-FILTER", "only ops whose name contains this", filter);
    cli.parse(argc, argv);
    return filter;
}

// Checks every case of the ops matching filter, printing one row each; returns the exit status.
int check_ops(const std::string& filter) {
    std::printf("%-20s %-44s %-18s %11s %11s  %s\n", "op", "case", "input, +params", "max abs err", "max rel err", "result");
    int failures = 0, rows = 0;
    for (const sr::OpSpec& spec : sr::op_registry()) {
        if (spec.name.find(filter) == std::string::npos) continue;
        for (const sr::OpCase& c : spec.cases) {
            // The first input's shape, and how many more inputs (parameters) there are.
            std::string shapes = sr::to_string(c.shapes[0]);
            if (c.shapes.size() > 1) shapes += " +" + std::to_string(c.shapes.size() - 1);
            const sr::Tensors inputs = sr::make_case_inputs(c, sr::DType::F64, 42);
            const sr::GradcheckResult r = sr::gradcheck(c.run, inputs, c.no_grad_inputs);
            std::printf("%-20s %-44s %-18s %11.2e %11.2e  %s\n", spec.name.c_str(), c.label.c_str(), shapes.c_str(),
                        r.max_abs_error, r.max_rel_error, r.passed ? "pass" : "FAIL");
            if (!r.passed) {
                std::printf("    worst: %s\n", r.worst.c_str());
                ++failures;
            }
            ++rows;
        }
    }
    if (rows == 0) {
        std::fprintf(stderr, "sr_gradcheck: no op matches '%s'\n", filter.c_str());
        return 2;
    }
    std::printf("%d checks, %d failed\n", rows, failures);
    return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    return sr::run_tool("sr_gradcheck", [&] { return check_ops(parse(argc, argv)); });
}
