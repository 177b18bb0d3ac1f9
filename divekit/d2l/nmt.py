"""Machine translation helpers of the function-based API (both editions' ``d2l`` packages define them):
``tokenize_nmt``, ``build_array_nmt``, ``load_data_nmt``, ``MaskedSoftmaxCELoss``, ``train_seq2seq``,
``predict_seq2seq``. The data is ``fra-eng`` (see ``divekit.d2l.seq2seq``)."""

from __future__ import annotations

import torch
from torch import nn

from divekit.d2l.plotting import Animator
from divekit.d2l.sentiment import truncate_pad
from divekit.d2l.seq2seq import init_seq2seq, preprocess_nmt, read_data_nmt, sequence_mask
from divekit.d2l.text import Vocab, grad_clipping
from divekit.d2l.training import load_array
from divekit.d2l.utils import Accumulator, Timer


def tokenize_nmt(text: str, num_examples=None):
    """Word lists of the source and target sentences (the first ``num_examples`` lines)."""
    source, target = [], []
    for i, line in enumerate(text.split("\n")):
        if num_examples and i > num_examples:
            break
        parts = line.split("\t")
        if len(parts) == 2:
            source.append(parts[0].split(" "))
            target.append(parts[1].split(" "))
    return source, target


def build_array_nmt(lines, vocab, num_steps: int):
    """Index arrays ``[N, num_steps]`` (``<eos>`` appended, padded) and their valid lengths."""
    lines = [vocab[line] + [vocab["<eos>"]] for line in lines]
    array = torch.tensor([truncate_pad(line, num_steps, vocab["<pad>"]) for line in lines])
    return array, (array != vocab["<pad>"]).type(torch.int32).sum(1)


def load_data_nmt(batch_size: int, num_steps: int, num_examples: int = 600):
    """``(data_iter, src_vocab, tgt_vocab)`` over the first ``num_examples`` pairs."""
    source, target = tokenize_nmt(preprocess_nmt(read_data_nmt()), num_examples)
    reserved = ["<pad>", "<bos>", "<eos>"]
    src_vocab = Vocab(source, min_freq=2, reserved_tokens=reserved)
    tgt_vocab = Vocab(target, min_freq=2, reserved_tokens=reserved)
    src_array, src_valid_len = build_array_nmt(source, src_vocab, num_steps)
    tgt_array, tgt_valid_len = build_array_nmt(target, tgt_vocab, num_steps)
    return load_array((src_array, src_valid_len, tgt_array, tgt_valid_len), batch_size), src_vocab, tgt_vocab


class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):
    """Cross-entropy per sequence over its valid tokens: ``forward(pred [B, T, V], label [B, T], valid_len)``."""

    def forward(self, pred, label, valid_len):
        weights = sequence_mask(torch.ones_like(label), valid_len)
        self.reduction = "none"
        unweighted_loss = super().forward(pred.permute(0, 2, 1), label)
        return (unweighted_loss * weights).mean(dim=1)


def train_seq2seq(net, data_iter, lr: float, num_epochs: int, tgt_vocab, device) -> None:
    """Teacher-forced training with Adam; prints ``loss …, … tokens/sec on <device>``."""
    net.apply(init_seq2seq)
    net.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    loss = MaskedSoftmaxCELoss()
    net.train()
    animator = Animator(xlabel="epoch", ylabel="loss", xlim=[10, num_epochs])
    for epoch in range(num_epochs):
        timer, metric = Timer(), Accumulator(2)  # loss sum, tokens
        for batch in data_iter:
            optimizer.zero_grad()
            X, X_valid_len, Y, Y_valid_len = [x.to(device) for x in batch]
            bos = torch.tensor([tgt_vocab["<bos>"]] * Y.shape[0], device=device).reshape(-1, 1)
            Y_hat, _ = net(X, torch.cat([bos, Y[:, :-1]], 1), X_valid_len)
            l = loss(Y_hat, Y, Y_valid_len)
            l.sum().backward()
            grad_clipping(net, 1)
            optimizer.step()
            metric.add(l.detach().sum(), Y_valid_len.sum())
        if (epoch + 1) % 10 == 0:
            animator.add(epoch + 1, (metric[0] / metric[1],))
    animator.close()
    print(f"loss {metric[0] / metric[1]:.3f}, {metric[1] / timer.stop():.1f} tokens/sec on {str(device)}")


def predict_seq2seq(net, src_sentence: str, src_vocab, tgt_vocab, num_steps: int, device,
                    save_attention_weights: bool = False):
    """Greedy translation of one sentence; returns ``(translation, attention weights per step)``."""
    net.eval()
    src_tokens = src_vocab[src_sentence.lower().split(" ")] + [src_vocab["<eos>"]]
    enc_valid_len = torch.tensor([len(src_tokens)], device=device)
    src_tokens = truncate_pad(src_tokens, num_steps, src_vocab["<pad>"])
    enc_X = torch.tensor(src_tokens, dtype=torch.long, device=device).unsqueeze(0)
    dec_state = net.decoder.init_state(net.encoder(enc_X, enc_valid_len), enc_valid_len)
    dec_X = torch.tensor([tgt_vocab["<bos>"]], dtype=torch.long, device=device).unsqueeze(0)
    output_seq, attention_weight_seq = [], []
    for _ in range(num_steps):
        Y, dec_state = net.decoder(dec_X, dec_state)
        dec_X = Y.argmax(dim=2)
        pred = int(dec_X.squeeze(dim=0).item())
        if save_attention_weights:
            attention_weight_seq.append(net.decoder.attention_weights)
        if pred == tgt_vocab["<eos>"]:
            break
        output_seq.append(pred)
    return " ".join(tgt_vocab.to_tokens(output_seq)), attention_weight_seq
