"""Control-flow corpus: small programs in the spirit of Tangent's test suite.

Every function here is differentiated by ``tests/test_control_flow_corpus.py`` and checked
against central finite differences (specialised and rank-generic derivatives). The inputs used
there keep every data-dependent branch decision and every while-loop trip count well away from
its boundary, so that finite differences never cross one.

The functions in section "still refused" use constructs sourcegrad refuses; each carries a
``# REFUSE: name`` tag on the line the refusal must name.
"""

import numpy as np

# --------------------------------------------------------------------------- if / elif / else


def if_on_sum(x):
    if np.sum(x) > 0.0:
        y = np.sin(x)
    else:
        y = np.cos(x)
    return np.sum(y * x)


def if_elif_else(x):
    m = np.mean(x)
    if m > 1.0:
        y = x * x
    elif m > -1.0:
        y = np.tanh(x) * 3.0
    else:
        y = np.exp(0.1 * x)
    return np.sum(y)


def if_without_else(x):
    y = x * 2.0
    if np.max(x) > 0.5:
        y = y * np.sin(x)
    return np.sum(y)


def if_on_bool_flag(x, flag):
    if flag:
        y = np.tanh(x)
    else:
        y = x * x * x
    return np.sum(y)


def if_on_string_mode(x, mode):
    if mode == "square":
        y = x * x
    elif mode == "sin":
        y = np.sin(x)
    else:
        y = x
    return np.sum(y)


def if_on_int_argument(x, n):
    y = x
    if n > 2:
        y = np.sin(y) * n
    return np.sum(y * x)


def nested_if(x, y):
    if np.sum(x) > 0.0:
        if np.sum(y) > 0.0:
            z = x * y
        else:
            z = x - y
    else:
        if np.sum(y) > 0.0:
            z = np.sin(x) * y
        else:
            z = x + np.cos(y)
    return np.sum(z * z)


def if_assigns_different_names(x):
    a = x * 1.0
    b = np.sin(x)
    if np.sum(x) > 0.0:
        a = a * b
    else:
        b = b * b
    return np.sum(a + b)


def if_on_scalar_float(a, b):
    if a > 1.0:
        c = a * b
    else:
        c = a - b * b
    return c * c


def if_on_element(x):
    if x[0] > x[1]:
        y = x[0] * x
    else:
        y = x[1] * np.tanh(x)
    return np.sum(y)


def if_on_intermediate(x):
    h = np.tanh(x) * 2.0
    s = np.sum(h)
    if s > 0.5:
        out = s * s
    else:
        out = np.sum(h * x)
    return out


def if_boolean_and(x):
    if np.sum(x) > 0.0 and np.max(x) < 5.0:
        y = np.exp(0.5 * x)
    else:
        y = x
    return np.sum(y)


def if_not(x):
    y = x
    if not np.min(x) > 0.0:
        y = y * y
    return np.sum(y)


def if_both_args(x, y):
    if np.mean(x) > np.mean(y):
        z = x * np.sin(y)
    else:
        z = y * np.cos(x)
    return np.sum(z)


def if_overwrites_twice(x):
    y = x
    if np.sum(x) > 0.0:
        y = y * y
        y = np.sin(y)
        y = y + x
    return np.sum(y)


def if_reads_before_overwrite(x):
    y = np.tanh(x)
    if np.sum(y) > 0.0:
        z = y * x
        y = y * 3.0
        z = z + y
    else:
        z = y
    return np.sum(z + y)


# ------------------------------------------------------------------ overwritten variables


def overwrite_chain(x):
    x = x * 2.0
    x = np.sin(x)
    x = x * x
    return np.sum(x)


def overwrite_arg_used_after(x):
    y = x * x
    x = np.sin(x)
    return np.sum(x * y)


def aug_assign(x):
    s = x * 1.0
    s += x * x
    s *= np.cos(x)
    s -= 0.5 * x
    return np.sum(s)


def tuple_swap(a, b):
    a, b = b, a * b
    a, b = np.sin(b), a + b
    return np.sum(a * b)


def overwrite_with_slices(x):
    x = x[1:] * x[:-1]
    x = np.tanh(x[1:]) + x[0]
    return np.sum(x)


# --------------------------------------------------------------------------- for over range


def for_range_const(x):
    z = x
    for _ in range(4):
        z = np.sin(z) * x
    return np.sum(z)


def for_range_arg(x, n):
    z = x
    for _ in range(n):
        z = np.tanh(z * x + 0.1)
    return np.sum(z)


def for_range_start_stop(x):
    z = x
    for i in range(2, 5):
        z = z * 0.5 + np.sin(x * i)
    return np.sum(z)


def for_range_step(x):
    z = x * 0.0
    for i in range(0, 7, 2):
        z = z + np.cos(x) * i
    return np.sum(z * x)


def for_range_len(x):
    s = 0.0
    for i in range(len(x)):
        s = s + x[i] * x[i] * (i + 1)
    return s


def for_accumulate_scalar(x):
    s = 0.0
    for i in range(3):
        s = s + np.sum(np.sin(x * (i + 1)))
    return s * s


def for_serial_loops(x):
    z = x
    for _ in range(3):
        z = z * 0.9 + 0.1 * np.sin(z)
    w = z * 1.0
    for _ in range(2):
        w = w * z
    return np.sum(w)


def for_nested(x):
    z = x
    for i in range(3):
        for j in range(2):
            z = np.tanh(z + x * (i - j))
    return np.sum(z)


def for_nested_triangular(x):
    s = x * 0.0
    for i in range(4):
        for j in range(i):
            s = s + np.sin(x * j) * i
    return np.sum(s * x)


def for_zero_trip_arg(x, n):
    z = x * 3.0
    for _ in range(n):
        z = np.sin(z)
    return np.sum(z * z)


def for_zero_trip_const(x):
    z = np.tanh(x)
    for _ in range(0):
        z = z * x
    return np.sum(z)


def for_rows_by_index(x, w):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + np.sum(np.tanh(x[i] @ w))
    return s


def for_uses_counter_value(x):
    z = x
    for i in range(4):
        z = z * (i + 1.0) * 0.3 + x
    return np.sum(z)


def for_loop_var_overwrites(x):
    i = x * 2.0
    s = np.sum(i)
    for i in range(3):
        s = s + i * np.sum(x)
    return s


def for_defines_inside(x):
    z = x
    for i in range(3):
        t = np.sin(z) * (i + 1)
        z = z + 0.1 * t
    return np.sum(t * z)


def for_read_then_overwrite(x):
    z = x
    for _ in range(3):
        a = z * z
        z = np.sin(z) + a * 0.1
    return np.sum(z)


def for_two_carried(x, y):
    a = x
    b = y
    for _ in range(4):
        a, b = b, np.tanh(a + b)
    return np.sum(a * b)


# ------------------------------------------------------------ for over arrays / zip / enumerate


def for_over_rows(xs, w):
    s = 0.0
    for x in xs:
        s = s + np.sum(np.sin(x * w))
    return s


def for_over_elements(x):
    s = 0.0
    for v in x:
        s = s + v * v * v
    return s


def for_over_list(ws, x):
    h = x
    for w in ws:
        h = np.tanh(w @ h)
    return np.sum(h)


def for_over_tuple(ab, x):
    s = 0.0
    for t in ab:
        s = s + np.sum(t * x)
    return s * s


def for_zip(xs, ys):
    s = 0.0
    for x, y in zip(xs, ys):
        s = s + np.sum((np.tanh(x) - y) ** 2)
    return s


def for_enumerate(xs):
    s = 0.0
    for i, x in enumerate(xs):
        s = s + np.sum(x * x) * (i + 1)
    return s


def for_zip_array_and_list(xs, ws):
    s = 0.0
    for x, w in zip(xs, ws):
        s = s + np.sum(np.sin(x * w))
    return s


def for_over_empty(xs, h):
    for x in xs:
        h = h * x
    return np.sum(h * h)


def horner(x, coeffs):
    y = x * 0.0
    for c in coeffs:
        y = y * x + c
    return np.sum(y)


# ------------------------------------------------------ branches in loops, loops in branches


def branch_in_loop_on_data(x):
    z = x
    for _ in range(4):
        if np.sum(z) > 0.0:
            z = z - 1.5
        else:
            z = np.sin(z) + 1.0
    return np.sum(z * z)


def branch_in_loop_on_index(x):
    z = x
    for i in range(5):
        if i % 2 == 0:
            z = np.sin(z)
        else:
            z = z * x
    return np.sum(z)


def elif_in_loop(x):
    z = x
    for i in range(6):
        if i % 3 == 0:
            z = z * 0.5
        elif i % 3 == 1:
            z = np.tanh(z + x)
        else:
            z = z * z
    return np.sum(z)


def loop_in_branch(x):
    z = x
    if np.sum(x) > 0.0:
        for _ in range(3):
            z = np.sin(z) * x
    else:
        z = z * 2.0
    return np.sum(z)


def loops_in_both_branches(x, n):
    z = x
    if np.mean(x) > 0.0:
        for _ in range(n):
            z = z * 0.5 + x
    else:
        for _ in range(n + 2):
            z = np.tanh(z) * x
    return np.sum(z)


def branch_in_nested_loop(x):
    z = x
    for i in range(3):
        for j in range(3):
            if i == j:
                z = np.sin(z)
            else:
                z = z + 0.1 * x
    return np.sum(z)


def branch_in_loop_over_elements(x):
    s = 0.0
    for v in x:
        if v > 0.0:
            s = s + v * v
        else:
            s = s - np.sin(v)
    return s


def branch_without_else_in_loop(x):
    z = x
    for i in range(4):
        if np.max(z) > 3.0:
            z = z * 0.25
        z = z * (1.0 + 0.5 * i)
    return np.sum(z)


# --------------------------------------------------------------------------------- while


def newton_sqrt(a):
    y = a
    while abs(y * y - a) > 1e-12:
        y = 0.5 * (y + a / y)
    return y


def newton_sqrt_array(a):
    y = a * 1.0
    while np.max(np.abs(y * y - a)) > 1e-12:
        y = 0.5 * (y + a / y)
    return np.sum(y)


def halve_until_small(x):
    while np.sum(x * x) > 0.01:
        x = 0.5 * x
    return np.sum(np.sin(x))


def while_counter(x, n):
    i = 0
    z = x
    while i < n:
        z = np.sin(z) + x
        i = i + 1
    return np.sum(z)


def while_zero_trip(x):
    z = x * 1.0
    while np.sum(z) > 100.0:
        z = z * 0.5
    return np.sum(z * z)


def while_with_branch(x):
    z = x
    k = 0
    while k < 5:
        if np.sum(z) > 0.0:
            z = z - 1.0
        else:
            z = z * 1.5
        k = k + 1
    return np.sum(z * x)


def while_in_for(x):
    z = x
    for _ in range(2):
        while np.max(np.abs(z)) > 0.5:
            z = z * 0.6
        z = z + x
    return np.sum(z)


def fixed_point_cos(a):
    y = a * 0.0
    y_old = y + 1.0
    while np.max(np.abs(y - y_old)) > 1e-13:
        y_old = y
        y = np.cos(a * y)
    return np.sum(y)


def grow_until_large(x):
    while np.sum(x) < 10.0:
        x = x * 1.5 + 0.1
    return np.sum(x * x)


def while_data_and_counter(x):
    k = 0
    z = x
    while np.sum(z * z) > 0.05 and k < 100:
        z = np.sin(z) * 0.7
        k = k + 1
    return np.sum(z)


def while_tuple_update(a, b):
    k = 0
    while k < 3:
        a, b = a * b, a + b
        k = k + 1
    return np.sum(a - b)


# ------------------------------------------------------------------- RNNs and model-like


def rnn(params, xs, h):
    for x in xs:
        h = np.tanh(x @ params["Wx"] + h @ params["Wh"] + params["b"])
    return np.sum(h * h)


def rnn_loss_per_step(params, xs, ys):
    h = np.zeros(params["Wh"].shape[0])
    loss = 0.0
    for t, x in enumerate(xs):
        h = np.tanh(x @ params["Wx"] + h @ params["Wh"] + params["b"])
        loss = loss + np.sum((h - ys[t]) ** 2)
    return loss


def mse_over_batch(w, xs, ys):
    loss = 0.0
    for x, y in zip(xs, ys):
        pred = np.tanh(x @ w)
        loss = loss + np.mean((pred - y) ** 2)
    return loss / len(xs)


def unrolled_gradient_descent(x, target):
    w = x * 1.0
    for _ in range(3):
        w = w - 0.1 * (w - target) * np.cos(w)
    return np.sum(w * w)


def power_iteration(a, v):
    for _ in range(5):
        v = a @ v
        v = v / np.sqrt(np.sum(v * v))
    return v @ a @ v


def cumulative_product(x):
    p = 1.0
    for v in x:
        p = p * v
    return p


def softmax_loop(logits, ws):
    s = 0.0
    for w in ws:
        z = logits * w
        e = np.exp(z - np.max(z))
        p = e / np.sum(e)
        s = s + np.sum(p * z)
    return s


def layers_in_dict_list(params, x):
    h = x
    for i in range(len(params["W"])):
        h = np.tanh(h @ params["W"][i] + params["b"][i])
    return np.sum(h)


def scalar_loop(a, b):
    s = 0.0
    for i in range(3):
        s = s + a * np.sin(b * i)
    return s * a


# ------------------------------------------- assignment into arrays (x[k] = v, x[k] += v)


def set_item_in_loop(x):
    y = np.zeros_like(x)
    for i in range(3):
        y[i] = x[i] * x[i] * (i + 1.0)
    return np.sum(np.sin(y))


def set_item_in_branch(x):
    y = x * 1.0
    if np.sum(x) > 0.0:
        y[0] = 0.0
    else:
        y[1] = np.sin(x[0])
    return np.sum(y * y)


def aug_item_in_loop(x):
    y = np.zeros_like(x)
    for i in range(3):
        y[i] += x[i] * np.cos(x[i])
        y[0] += x[i]
    return np.sum(y * y)


def set_item_recurrence(x):
    y = x * 1.0
    for i in range(1, 4):
        y[i] = np.tanh(y[i - 1] * x[i] + y[i])
    return np.sum(y)


def set_item_in_argument(x, w):
    x = x.copy()  # (a copy: the caller's x is left as it was)
    x[0] = w[1] * 2.0
    x[1:] = x[1:] * w[1:]
    return np.sum(x * x)


def set_slice_in_while(x):
    x = x.copy()  # (a copy: the caller's x is left as it was)
    k = 0
    while np.max(np.abs(x)) > 0.2 and k < 20:
        x[::2] = x[::2] * 0.5
        x[1::2] = np.sin(x[1::2])
        k = k + 1
    return np.sum(x)


# ------------------------------------------------ break, continue, return in a block
# (refused when this corpus was started; now lowered to flags by sourcegrad)


def break_in_while(x):
    while np.sum(x * x) > 0.01:
        x = 0.5 * x
        if np.max(x) < 0.3:
            break
    return np.sum(x)


def break_in_for(x):
    s = 0.0
    for v in x:
        if v > 1.0:
            break
        s = s + np.sin(v) * v
    return s


def break_in_nested_loop(x):
    z = x
    for i in range(3):
        for _ in range(4):
            z = np.tanh(z) + x * i
            if np.sum(z) > 2.0:
                break
    return np.sum(z * z)


def newton_with_break(a):
    y = a
    for _ in range(50):
        y = 0.5 * (y + a / y)
        if np.max(np.abs(y * y - a)) < 1e-12:
            break
    return np.sum(y)


def continue_in_for(x):
    s = 0.0
    for v in x:
        if v < 0.0:
            continue
        s = s + v * v
    return s


def continue_in_while(x):
    k = 0
    z = x
    while k < 4:
        k = k + 1
        if k % 2 == 0:
            continue
        z = np.sin(z) * x
    return np.sum(z)


def return_in_if(x):
    if np.sum(x) > 0.0:
        return np.sum(x * x)
    return np.sum(x)


def return_in_else(x):
    if np.sum(x) > 0.0:
        y = x
    else:
        return np.sum(x * x)
    return np.sum(np.sin(y))


def return_in_for(x):
    for _ in range(3):
        x = np.sin(x)
        return np.sum(x)
    return np.sum(x)


def return_in_while(x):
    while np.sum(x) > 0.1:
        x = 0.5 * x
        if np.max(x) < 0.5:
            return np.sum(x * x)
    return np.sum(x)


def return_in_loop_in_branch(x, y):
    z = x
    if np.sum(y) > 0.0:
        for v in y:
            z = z * v + x
            if np.sum(z) > 3.0:
                return np.sum(z)
    else:
        z = z * y
    return np.sum(z * y)


# ------------------------------------ helpers of the user's, nested defs, lists, append
# (refused when this corpus was started; now differentiated by sourcegrad)


def helper(x):
    return x * 2.0


def helper_with_control_flow(x):
    for _ in range(2):
        if np.sum(x) > 0.0:
            x = np.sin(x) + 0.5
        else:
            x = x * x
    return x


def helper_in_loop(x):
    for _ in range(2):
        x = helper(x) * np.cos(x)
    return np.sum(x)


def helper_in_branch(x):
    if np.sum(x) > 0.0:
        x = helper(x)
    return np.sum(x * x)


def helper_with_control_flow_in_loop(x):
    for _ in range(2):
        x = helper_with_control_flow(x) * x
    return np.sum(x)


def nested_def_in_branch(x):
    if np.sum(x) > 0.0:

        def inner(v):
            return v * 2.0

        x = inner(np.sin(x))
    return np.sum(x * x)


def append_in_loop(x):
    ys = []
    for i in range(3):
        ys.append(np.sin(x * i))
    return np.sum(ys[1] * ys[2])


def append_straight_line(x):
    ys = []
    ys.append(x)
    ys.append(x * x)
    return np.sum(ys[0] * ys[1])


def subscript_assign_nested(x):
    y = {"a": np.zeros(3)}
    for i in range(3):
        y["a"][i] = x[i] * y["a"][i - 1]
    return np.sum(y["a"] ** 2)


def append_then_stack(xs, w):
    hs = []
    h = w * 0.0
    for x in xs:
        h = np.tanh(x * w + h)
        hs.append(h)
    return np.sum(np.stack(hs) ** 2)


def set_item_through_alias(x):
    """``z[0] = 0.0`` through a second name of ``y`` changes ``y``: followed, not refused."""
    y = x * 1.0
    z = y
    z[0] = 0.0
    return np.sum(y * y)


# ------------------------------------------------------------------- still refused


def set_item_while_iterating(x):
    y = x * 1.0
    s = 0.0
    for e in y:
        y[1] = 0.0  # REFUSE: set_item_while_iterating
        s = s + e * e
    return s


def subscript_assign_nested_shared(x):
    h = np.zeros(3)
    y = {"a": h}
    for i in range(3):
        y["a"][i] = x[i]  # REFUSE: subscript_assign_nested_shared
    return np.sum(h * y["a"])


def for_else(x):
    for v in x:
        x = x * v
    else:
        x = x + 1.0
    return np.sum(x)


def while_else(x):
    while np.sum(x) > 0.1:
        x = x * 0.5
    else:
        x = x + 1.0
    return np.sum(x)


def try_in_loop(x):
    for _ in range(2):
        try:  # REFUSE: try_in_loop
            x = np.log(x)
        except ValueError:
            x = x * 2.0
    return np.sum(x)


def nested_def_captures_active(x):
    y = np.sin(x)

    def inner(v):
        return v * y

    for _ in range(2):
        x = inner(x)  # the nested function reads y, a differentiated value
    return np.sum(x)


# ----------------------------------- minimal reproducers of failures found by this corpus
# (each was silently wrong or crashed on an earlier revision; kept as regression tests)


def min_loop_var_shadows_active(x):
    i = x
    s = np.sum(i)
    for i in range(2):
        s = s + i * np.sum(x)
    return s


def min_while_in_for(x):
    z = x
    for _ in range(2):
        while np.max(z) > 1.0:
            z = z * 0.5
        z = z - x
    return np.sum(z)


def min_loop_over_ragged_list(ws, x):
    for w in ws:
        x = w @ x
    return np.sum(x)


def min_index_ragged_list_in_loop(ws, x):
    for i in range(2):
        x = ws[i] @ x
    return np.sum(x)


def min_vector_dot(a, b):
    return a @ b


def min_iterate_rebound_array(x):
    for e in x:
        x = x * e
    return np.sum(x)


def min_value_of_output_overwritten_in_loop(a):
    y = a
    for _ in range(2):
        y = y * a
    return y


def min_value_of_output_overwritten_in_branch(x):
    s = np.sum(x)
    if s > 0.0:
        s = s * s
    return s


def min_aux_overwritten_in_loop(x):
    h = x
    for _ in range(2):
        h = np.sin(h)
    return np.sum(h), h


def min_helper_in_branch_reads_overwritten(x):
    if np.sum(x) > 0.0:
        x = helper(np.sin(x))
    return np.sum(x)


def min_nested_def_in_branch_value(x):
    if np.sum(x) > 0.0:

        def inner(v):
            return v * 2.0

        x = inner(x)
    return np.sum(x * x)


def min_write_then_iterate(x):
    y = x * 1.0
    y[0] = 0.0
    s = 0.0
    for e in y:
        s = s + e * e
    return s


def min_iterate_then_write(x):
    y = x * 1.0
    s = 0.0
    for e in y:
        s = s + e * e
    y[0] = 0.0
    return s + np.sum(y)


def min_element_read_then_write(x):
    y = x * 1.0
    a = y[0]
    y[1] = 0.0
    return np.sum(y) * a


def min_element_read_rebound_then_write(x):
    y = x * 1.0
    a = y[0]
    a = np.sum(x)
    y[1] = 0.0
    return np.sum(y) * a


def broadcast_up_in_loop(c, x):
    """Regression: h starts with c's shape (3,) and is broadcast up to (4, 3) by the loop; the
    adjoint of `h = h + x[i]` must be reduced back to h's earlier shape."""
    h = c
    for i in range(2):
        h = h + x[i]
    return np.sum(h * h)
